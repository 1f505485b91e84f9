// Reading a JetStream KV bucket without the KV iterators. `kv.keys()` and `kv.history()` run an
// ordered consumer until it reports nothing pending, and on nats.js 3.4 with nats-server 2.9.10
// that was reproduced hanging under concurrent puts (3 hangs in 40 reads). These reads are plain
// requests instead: the stream's per-subject state, and direct gets.
import type { JetStreamClient, StoredMsg } from "@nats-io/jetstream";

const subjectPrefix = (bucket: string) => `$KV.${bucket}.`;
const streamOf = (bucket: string) => `KV_${bucket}`;

/** The keys of `bucket` matching a subject filter (`worker.>`, `routing.*`), deleted ones included. */
export async function kvKeys(js: JetStreamClient, bucket: string, filter: string): Promise<string[]> {
  const prefix = subjectPrefix(bucket);
  const jsm = await js.jetstreamManager();
  const info = await jsm.streams.info(streamOf(bucket), { subjects_filter: `${prefix}${filter}` });
  return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
}

/** Every stored revision of one key, oldest first (a put has no KV-Operation header). */
export async function kvRevisions(
  js: JetStreamClient,
  bucket: string,
  key: string,
): Promise<Array<{ revision: number; put: boolean; msg: StoredMsg }>> {
  const jsm = await js.jetstreamManager();
  const subject = `${subjectPrefix(bucket)}${key}`;
  const out: Array<{ revision: number; put: boolean; msg: StoredMsg }> = [];
  for (let seq = 1; ;) {
    const msg = await jsm.direct.getMessage(streamOf(bucket), { next_by_subj: subject, seq });
    if (!msg) return out;
    out.push({ revision: msg.seq, put: !msg.header?.get("KV-Operation"), msg });
    seq = msg.seq + 1;
  }
}
