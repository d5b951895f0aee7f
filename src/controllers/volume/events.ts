/**
 * Event reasons of the storage controllers (pkg/controller/volume/events),
 * and the events.k8s.io `action` skiff files each under (the legacy
 * recorder upstream uses has none; the events.k8s.io API requires one).
 */
export const FailedBinding = "FailedBinding";
export const VolumeMismatch = "VolumeMismatch";
export const VolumeFailedRecycle = "VolumeFailedRecycle";
export const VolumeRecycled = "VolumeRecycled";
export const RecyclerPod = "RecyclerPod";
export const VolumeDelete = "VolumeDelete";
export const VolumeFailedDelete = "VolumeFailedDelete";
export const ExternalProvisioning = "ExternalProvisioning";
export const ProvisioningFailed = "ProvisioningFailed";
export const ProvisioningCleanupFailed = "ProvisioningCleanupFailed";
export const ProvisioningSucceeded = "ProvisioningSucceeded";
export const WaitForFirstConsumer = "WaitForFirstConsumer";
export const WaitForPodScheduled = "WaitForPodScheduled";
export const ClaimLost = "ClaimLost";
export const ClaimMisbound = "ClaimMisbound";
export const VolumeUnknownReclaimPolicy = "VolumeUnknownReclaimPolicy";

const ACTIONS: Readonly<Record<string, string>> = {
  [FailedBinding]: "Binding",
  [VolumeMismatch]: "Binding",
  [WaitForFirstConsumer]: "Binding",
  [WaitForPodScheduled]: "Binding",
  [ClaimLost]: "Binding",
  [ClaimMisbound]: "Binding",
  [ExternalProvisioning]: "Provisioning",
  [ProvisioningFailed]: "Provisioning",
  [ProvisioningCleanupFailed]: "Provisioning",
  [ProvisioningSucceeded]: "Provisioning",
  [VolumeDelete]: "Deleting",
  [VolumeFailedDelete]: "Deleting",
  [VolumeFailedRecycle]: "Recycling",
  [VolumeRecycled]: "Recycling",
  [RecyclerPod]: "Recycling",
  [VolumeUnknownReclaimPolicy]: "Reclaiming",
};

/** The action an event of `reason` is recorded with. */
export function actionFor(reason: string): string {
  return ACTIONS[reason] ?? reason;
}
