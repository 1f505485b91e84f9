// The worker role on its own (Procfile): payment actors fed by PAY_CMD.
import { run } from "../scripts/run.ts";

await run(["worker"], { startLocalServices: false });
