// The Procfile's sandbox role: the simulated PSPs on their own, configured through the one schema.
import { run } from "./run.ts";

await run(["sandbox"], { startLocalServices: false });
