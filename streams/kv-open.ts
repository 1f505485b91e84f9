// Opening a JetStream KV bucket that other processes may be creating at the same moment (every role
// opens its buckets at start-up, and the Procfile starts them together). Creation is idempotent, but
// two races remain: the loser may see the stream appear between its info and its add (it asks once
// more), and in a cluster (nats-server 2.9, R3) the first read of a bucket several clients have just
// created can go unanswered, the client timing out after 5 s (3 clients creating one bucket at once:
// 18 of 30 first reads; a second read answers). So a bucket is returned once a read of it answered.
import type { JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV, type KvOptions } from "@nats-io/kv";

/** A key no store writes: reading it costs one lookup that answers "no entry". */
const PROBE_KEY = "_open_probe";
const READ_ATTEMPTS = 5;

export async function openBucket(js: JetStreamClient, name: string, opts: Partial<KvOptions>): Promise<KV> {
  const create = () => new Kvm(js).create(name, opts);
  const kv = await create().catch(() => create());
  for (let attempt = 1; ; attempt++) {
    try {
      await kv.get(PROBE_KEY);
      return kv;
    } catch (err) {
      if (attempt >= READ_ATTEMPTS || (err as Error).name !== "TimeoutError") throw err;
    }
  }
}
