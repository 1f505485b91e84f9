// The gateway role on its own (Procfile): HTTP API → commands on JetStream.
import { run } from "../scripts/run.ts";

await run(["gateway"], { startLocalServices: false });
