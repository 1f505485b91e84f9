// How a PAY_CMD message becomes a dead letter (the command consumer's last step for poison): the
// record goes to PAY_DLQ first, and only once it is stored is the message terminated, so nothing is
// lost. A message that held what must not be kept (a card number: Disposition `redact`) is stored
// masked (the `redact` function the worker gives: streams/ knows no card rules) and then erased from
// PAY_CMD with a secure delete (nats-server overwrites the stored bytes) and acknowledged off the
// work queue, so the only copy left is the masked one.
import type { JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import type { DeadLetter, DeadLetters } from "./dead-letters.ts";
import type { ConsumerFate, Delivery, Disposition } from "./disposition.ts";
import { Header, textOf } from "./envelopes.ts";
import type { Topology } from "./topology.ts";

export type DeadLetterDeps = {
  jsm: JetStreamManager;
  topo: Topology;
  deadLetters: DeadLetters;
  metrics: Metrics;
  log: Logger;
  fate: ConsumerFate;
  /** Masks what must never be stored or logged (card numbers) in a text: the worker's rule. */
  redact: (text: string) => string;
  /** Whether the consumer is stopping (a held message is then left to its ack wait). */
  stopping: () => boolean;
};

export async function deadLetterMessage(
  o: DeadLetterDeps,
  m: JsMsg,
  d: Extract<Disposition, { kind: "dead_letter" }>,
  delivery: Delivery,
): Promise<void> {
  const traceparent = m.headers?.get(Header.traceparent);
  const redacted = d.redact === true;
  const data = redacted ? Buffer.from(o.redact(textOf(m.data)), "utf8") : Buffer.from(m.data);
  const subject = o.redact(m.subject);
  const record: DeadLetter = {
    v: 1,
    subject,
    data: data.toString("base64"),
    ...(traceparent ? { traceparent } : {}),
    streamSeq: m.seq,
    deliveryCount: m.info.deliveryCount,
    reason: d.reason,
    error: d.error,
    at: new Date().toISOString(),
    ...(redacted && { redacted: true }),
  };
  let stored = false;
  try {
    await o.deadLetters.put(record);
    stored = true;
  } catch (err) {
    o.log.error({ err, subject }, "dead letter could not be stored");
    // The server's last delivery: a nak would never come back (max_deliver), and the command would
    // be gone with no record. Held here instead (working() keeps it ours), tried until stored.
    if (m.info.deliveryCount >= o.topo.commandMaxDeliver) stored = await storeHeld(o, m, record);
  }
  if (!stored) {
    // Not recorded, so not terminated: JetStream redelivers and we try again.
    const again = o.fate({ kind: "dead_letter_unstored" }, delivery);
    // Never an ack (the command would be lost) nor another dead letter (what just failed).
    m.nak(again.kind === "nak" ? again.delayMs : undefined);
    return;
  }
  if (redacted) {
    // The masked copy is stored: the original goes, its bytes overwritten on the server's disk.
    try {
      await o.jsm.streams.deleteMessage(o.topo.commandStream, m.seq, true);
    } catch (err) {
      o.log.error({ err, subject, seq: m.seq }, "could not erase a refused command; acknowledged instead");
    }
    // Off the work queue (acknowledged, so the server keeps nothing of it even if the erase failed).
    m.ack();
  } else {
    // No reason on the term: nats-server 2.9 ignores a `+TERM` that carries one and redelivers the
    // message after the ack wait (test/int/command-consumer.int.spec.ts). The reason is in the record.
    m.term();
  }
  o.metrics.deadLetters.inc({ reason: d.reason });
  o.log.error(
    { subject, seq: m.seq, deliveryCount: m.info.deliveryCount, reason: d.reason, error: d.error },
    "command dead-lettered",
  );
}

/**
 * Keep a message on its last delivery ours while its dead letter cannot be stored (PAY_DLQ away):
 * tried again after 1 s, 2 s, 4 s … up to 30 s, until stored (true) or the consumer stops (false:
 * logged, the message is left to its ack wait — the one case nothing here can save).
 */
async function storeHeld(o: DeadLetterDeps, m: JsMsg, record: DeadLetter): Promise<boolean> {
  for (let attempt = 0; !o.stopping(); attempt++) {
    const until = Date.now() + Math.min(30_000, 1_000 * 2 ** attempt);
    while (Date.now() < until && !o.stopping()) {
      m.working();
      await new Promise<void>((r) => setTimeout(r, Math.min(1_000, until - Date.now())).unref());
    }
    if (o.stopping()) break;
    try {
      await o.deadLetters.put(record);
      return true;
    } catch (err) {
      o.log.error(
        { err, subject: record.subject, attempt: attempt + 1 },
        "dead letter of a command on its last delivery still not stored; holding the command",
      );
    }
  }
  o.log.error(
    { subject: record.subject, seq: m.seq },
    "stopping with a command on its last delivery whose dead letter could not be stored: it is in PAY_CMD at this sequence",
  );
  return false;
}
