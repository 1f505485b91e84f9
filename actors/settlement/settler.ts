// The settler: every matched capture or refund line in SETTLE (a fee variance too) becomes a RecordSettlement command on
// its payment, so the payment's own history says it was settled (CaptureSettled / RefundSettled).
// A durable consumer: a chunk is acked only once its commands are stored in PAY_CMD, so a crash
// loses none; a redelivered chunk sends them again, and the message id (and the decider, by line id)
// makes the second time a no-op.
import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { Logger } from "../../config/log.ts";
import { durablePulls } from "../../streams/durable-pulls.ts";
import { decodeJson, encode } from "../../streams/envelopes.ts";
import { commandSubject, type Topology } from "../../streams/topology.ts";
import type { CommandEnvelope } from "../payment/core/wire.ts";
import type { MatchedOperation } from "./core/exceptions.ts";
import type { SettlementLine } from "./core/line.ts";
import { lineSettled } from "./core/match.ts";
import { SettleRecord } from "./records.ts";

const SETTLER = "settler";

/** The command that records a line as the settlement of its operation (also used by resolutions). */
export function settlementCommand(
  line: SettlementLine,
  op: MatchedOperation,
  at: string,
): CommandEnvelope | undefined {
  if (op.kind === "void" || (line.kind !== "capture" && line.kind !== "refund")) return undefined;
  return {
    v: 1,
    command: {
      type: "RecordSettlement",
      paymentId: op.paymentId,
      merchantId: op.merchantId,
      kind: op.kind,
      psp: op.psp,
      pspReference: op.pspReference,
      operation: op.operationId,
      reportId: line.reportId,
      lineId: line.lineId,
      batch: line.batch,
      payoutId: line.payoutId,
      currency: line.currency,
      amount: line.amount,
      fee: line.fee,
      expectedFee: op.expectedFee,
      net: line.net,
      settledAt: line.availableOn ?? line.createdAt,
      at,
    },
  };
}

export async function sendSettlement(
  js: JetStreamClient,
  topo: Topology,
  envelope: CommandEnvelope,
): Promise<void> {
  const c = envelope.command;
  if (c.type !== "RecordSettlement") return;
  await js.publish(commandSubject(topo, c.merchantId, c.paymentId), encode(envelope), {
    msgID: `settle:${c.psp}:${c.lineId}`,
    timeout: 10_000,
    retries: 3,
  });
}

export class Settler {
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly d: {
      js: JetStreamClient;
      jsm: JetStreamManager;
      topo: Topology;
      log: Logger;
      now: () => Date;
    },
  ) {}

  async start(): Promise<void> {
    await this.d.jsm.consumers.add(this.d.topo.settleStream, {
      durable_name: SETTLER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 60_000_000_000,
      max_ack_pending: 16,
    });
    const consumer = await this.d.js.consumers.get(this.d.topo.settleStream, SETTLER);
    this.#messages = await consumer.consume({ max_messages: 16, ...durablePulls(this.d.topo.replicas) });
    this.#loop = this.follow(this.#messages);
  }

  async stop(): Promise<void> {
    await this.#messages?.close();
    await this.#loop;
  }

  private async follow(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      try {
        const record = SettleRecord.parse(decodeJson(m.data));
        if (record.type === "chunk") {
          const at = this.d.now().toISOString();
          for (const l of record.lines) {
            if (!lineSettled(l) || !l.operation) continue;
            const envelope = settlementCommand(l.line, l.operation, at);
            if (envelope) await sendSettlement(this.d.js, this.d.topo, envelope);
          }
        }
        m.ack();
      } catch (err) {
        this.d.log.warn({ err, seq: m.seq }, "settler: chunk not sent; redelivered later");
        m.nak(5_000);
      }
    }
  }
}
