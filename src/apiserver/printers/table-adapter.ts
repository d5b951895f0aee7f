/** Connects the printers to the resource handler's Table rendering. */
import type { ResourceType } from "../../api/resources.js";
import type { TablePrinter } from "../handlers/resource.js";
import { crdTable } from "../../apiextensions/printer-columns.js";
import { printTable } from "./table.js";

export const tablePrinter: TablePrinter = (r: ResourceType, objects, listMeta, rendering) => {
  const include = rendering.includeObject;
  const includeObject = include === "None" || include === "Object" ? include : "Metadata";
  if (r.custom) {
    return crdTable({ additionalPrinterColumns: r.custom.printerColumns }, objects, {
      now: new Date(),
      includeObject,
      ...(listMeta ? { listMeta } : {}),
      groupVersion: `meta.k8s.io/${rendering.version}`,
    });
  }
  return printTable(r.group ? `${r.plural}.${r.group}` : r.plural, objects, {
    now: new Date(),
    includeObject,
    ...(listMeta ? { listMeta } : {}),
    groupVersion: `meta.k8s.io/${rendering.version}`,
  });
};
