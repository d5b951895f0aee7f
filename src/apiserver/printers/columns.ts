/** Builders for column definitions, as AddHandlers spells them. */
import { DOC } from "./descriptions.js";
import type { TableColumnDefinition } from "./types.js";

/** A column; `wide` marks priority 1 (shown by `-o wide`). */
export function col(name: string, type: string, description: string, wide = false, format = ""): TableColumnDefinition {
  return { name, type, format, description, priority: wide ? 1 : 0 };
}

/** The "Name" column: format "name", described by ObjectMeta.name. */
export const NAME = col("Name", "string", DOC.name, false, "name");

/** The "Age" column, described by ObjectMeta.creationTimestamp. */
export const AGE = col("Age", "string", DOC.creationTimestamp);

/** The wide "Containers" and "Images" columns of workload printers. */
export const CONTAINERS = col("Containers", "string", "Names of each container in the template.", true);
export const IMAGES = col("Images", "string", "Images referenced by each container in the template.", true);
