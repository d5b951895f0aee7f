import { runStoreConformance } from "../../conformance/suite.js";
import { openMemoryStore } from "./memory-store.js";

runStoreConformance("memory", { open: async () => openMemoryStore({ leaseSweepIntervalMs: 200 }) });
