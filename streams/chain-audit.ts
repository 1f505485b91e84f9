// Walks every payment's history in PAY_EVT, oldest first, through a ChainVerifier (streams/chain.ts):
// one ordered consumer from the stream's first message up to the last one there when the walk
// began (frames appended meanwhile are left for the next audit). Reads only; creates nothing
// durable (an ordered consumer is ephemeral).
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { ChainVerifier } from "./chain.ts";
import type { Topology } from "./topology.ts";

export async function auditEventChains(
  js: JetStreamClient,
  jsm: JetStreamManager,
  topo: Topology,
  verifier: ChainVerifier = new ChainVerifier(),
): Promise<ChainVerifier> {
  const info = await jsm.streams.info(topo.eventStream);
  const last = info.state.last_seq;
  if (info.state.messages === 0) return verifier;
  const prefix = `${topo.eventBase}.`;
  const consumer = await js.consumers.get(topo.eventStream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 1024 });
  try {
    for await (const m of messages) {
      if (m.subject.startsWith(prefix)) verifier.see(m.subject.slice(prefix.length), m.seq, m.data);
      if (m.seq >= last || m.info.pending === 0) break;
    }
  } finally {
    await messages.close();
  }
  return verifier;
}
