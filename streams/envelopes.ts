// Wire envelopes of PAY_CMD and PAY_EVT messages, and the reply an actor sends a waiting gateway.
// Versioned: a reader accepts every version it knows; a writer writes the newest.
import { z } from "zod";
import { ExternalCommand } from "../actors/payment/commands.ts";
import { PaymentEvent } from "../actors/payment/events.ts";
import type { PaymentView } from "../actors/payment/view.ts";

/** NATS headers the platform sets. */
export const Header = {
  replyTo: "Sy-Reply-To",
  traceparent: "traceparent",
} as const;

export const CommandEnvelopeV1 = z.object({
  v: z.literal(1),
  command: ExternalCommand,
  /** CreatePayment only: the card, sealed with streams/card-seal.ts (aad = paymentId). */
  sealedCard: z.string().optional(),
});
export type CommandEnvelopeV1 = z.infer<typeof CommandEnvelopeV1>;
export const CommandEnvelope = CommandEnvelopeV1;
export type CommandEnvelope = CommandEnvelopeV1;

/** All events decided for one command: one JetStream message, so they land together or not at all. */
export const EventEnvelopeV1 = z.object({
  v: z.literal(1),
  paymentId: z.string(),
  /** 1-based number of the first event in this envelope within the payment's history. */
  firstEventNo: z.number().int().positive(),
  events: z.array(PaymentEvent).min(1),
  traceId: z.string().optional(),
});
export type EventEnvelopeV1 = z.infer<typeof EventEnvelopeV1>;
export const EventEnvelope = EventEnvelopeV1;
export type EventEnvelope = EventEnvelopeV1;

/**
 * What an actor answers the gateway that sent a command:
 * - `settled`: the command is done and the payment is at rest (or the command changed nothing);
 * - `pending`: accepted, but waiting on a PSP (outcome unknown, PSP down): ask again later;
 * - `rejected`: the command was refused (the payment, if any, is unchanged).
 * `payment` is the public view (PaymentView): the worker renders it, the gateway passes it on.
 */
export const CommandReply = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("settled"), payment: z.custom<PaymentView>() }),
  z.object({ kind: z.literal("pending"), payment: z.custom<PaymentView>() }),
  z.object({
    kind: z.literal("rejected"),
    rejection: z.object({
      code: z.string(),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  }),
]);
export type CommandReply = z.infer<typeof CommandReply>;

export function encode(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value));
}

export function decodeJson(data: Uint8Array): unknown {
  return JSON.parse(Buffer.from(data).toString("utf8"));
}
