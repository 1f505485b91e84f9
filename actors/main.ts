// The worker role on its own (Procfile): payment actors fed by PAY_CMD (and, unless
// SWITCHYARD_PROJECTIONS=off, the projections too).
import { startWorkerRole } from "./role.ts";
import { runRole } from "./run-role.ts";

await runRole("worker", startWorkerRole);
