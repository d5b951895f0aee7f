/**
 * Everything skiff does with etcd as a program rather than as a store, in
 * one import: running `etcd` as a child process (etcd-launch.ts), reading
 * an etcd snapshot file back as entries (etcd-snapshot-read.ts), and the
 * operator commands for a full etcd restore (etcd-restore-commands.ts).
 */
export { type EtcdProcess, freePort, type StartEtcdOptions, startEtcd } from "./etcd-launch.js";
export { etcdFullRestoreCommands, type EtcdFullRestoreOptions } from "./etcd-restore-commands.js";
export { type ReadEtcdSnapshotOptions, readEtcdSnapshotEntries, verifyEtcdSnapshotHash } from "./etcd-snapshot-read.js";
