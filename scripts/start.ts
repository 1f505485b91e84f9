// `npm start`: the whole platform in one process (gateway, worker, PSP sandbox), starting local
// nats-server and redis-server when nothing answers at NATS_URL / REDIS_URL.
import { run } from "./run.ts";

await run(["sandbox", "worker", "gateway"], { startLocalServices: true });
