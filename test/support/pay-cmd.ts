// Commands straight onto a test run's PAY_CMD, as the platform's own senders put them there (the PSP
// notification door, the expiry sweep): for tests that play a PSP's notification without the door.
import { randomBytes } from "node:crypto";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { PspNotification } from "../../actors/payment/core/notification.ts";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import type { CommandEnvelope } from "../../actors/payment/core/wire.ts";
import { encode } from "../../streams/envelopes.ts";
import { commandSubject, topology } from "../../streams/topology.ts";
import { NATS_URL } from "./infra.ts";

export type PayCmd = {
  /** Store the command in PAY_CMD (deduplicated by `msgId`); resolves once JetStream has it. */
  send(envelope: CommandEnvelope, msgId: string): Promise<void>;
  /** The PSP's notification about this payment (its first attempt's PSP and reference), as a command. */
  notify(p: PaymentView, fields: NotificationFields): Promise<string>;
  close(): Promise<void>;
};

type Common = "id" | "psp" | "paymentReference" | "pspReference" | "at";
type NotificationFields = PspNotification extends infer N
  ? N extends PspNotification
    ? Omit<N, Common>
    : never
  : never;

export async function payCmd(env: Record<string, string>): Promise<PayCmd> {
  const topo = topology(env.SWITCHYARD_PREFIX ?? "", Number(env.SWITCHYARD_PARTITIONS ?? "1"));
  const nc = await connect({ servers: NATS_URL });
  const js = jetstream(nc);
  const send = async (envelope: CommandEnvelope, msgId: string) => {
    await js.publish(
      commandSubject(topo, envelope.command.merchantId, envelope.command.paymentId),
      encode(envelope),
      { msgID: msgId },
    );
  };
  return {
    send,
    async notify(p, fields) {
      const attempt = p.attempts[0];
      if (!attempt?.psp_reference) throw new Error(`payment ${p.id} has no PSP reference to notify about`);
      const at = new Date().toISOString();
      const notification: PspNotification = {
        id: `ntf_${randomBytes(6).toString("hex")}`,
        psp: attempt.psp,
        paymentReference: p.id,
        pspReference: attempt.psp_reference,
        at,
        ...fields,
      };
      await send(
        { v: 1, command: { type: "RecordNotification", paymentId: p.id, notification, at } },
        notification.id,
      );
      return notification.id;
    },
    close: () => nc.close(),
  };
}
