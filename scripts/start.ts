// `npm start`: the whole platform in one process (gateway, worker, PSP sandbox), starting local
// nats-server and redis-server when nothing answers at NATS_URL / REDIS_URL.
import { run } from "./run.ts";

// A developer's webhook receiver is http://localhost:…: allowed here unless set otherwise
// (production's default is https only).
process.env.SWITCHYARD_WEBHOOK_ALLOW_HTTP_LOOPBACK ??= "true";

await run(["sandbox", "worker", "gateway"], { startLocalServices: true });
