// The projector role on its own (Procfile): the read models, settlement followers, challenge expiry
// and webhook dispatcher and sender (actors/projector-role.ts), off the payment workers, which then
// run with SWITCHYARD_PROJECTIONS=off (the worker's switch, not read here).
import { startProjectorRole } from "./projector-role.ts";
import { runRole } from "./run-role.ts";

await runRole("projector", startProjectorRole);
