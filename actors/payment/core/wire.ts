// What travels inside the platform's frames, as the payment owns it: the command envelope on
// PAY_CMD (parsed once, where the worker takes it off the stream), the events inside a PAY_EVT
// frame (validated before they are written, parsed when read), and the reply an actor sends the
// gateway waiting for it. Versioned: a reader accepts every version it knows.
import { z } from "zod";
import {
  CapturePayment,
  CancelPayment,
  CreatePayment,
  ExpirePayment,
  RecordNotification,
  RecordSettlement,
  RefundPayment,
  ResolvePayment,
  ResumePayment,
} from "./commands.ts";
import { PaymentEvent } from "./events.ts";
import { PaymentView } from "./view.ts";

export const CommandEnvelopeV1 = z.object({
  v: z.literal(1),
  command: z.discriminatedUnion("type", [
    CreatePayment,
    CapturePayment,
    CancelPayment,
    RefundPayment,
    ResumePayment,
    RecordSettlement,
    ResolvePayment,
    ExpirePayment,
    RecordNotification,
  ]),
  /** CreatePayment only: the card, sealed by actors/payment/card-seal.ts (bound to the paymentId). */
  sealedCard: z.string().max(4096).optional(),
  /**
   * CreatePayment from an internal system: a card token (core/card-token.ts) instead of sealedCard.
   * The worker opens it for the command's merchant and takes the card's facts from it, not from
   * `command.card`; it never reaches the actor (the worker reseals the card as sealedCard).
   */
  cardToken: z.string().max(4096).optional(),
});
export type CommandEnvelopeV1 = z.infer<typeof CommandEnvelopeV1>;
export const CommandEnvelope = CommandEnvelopeV1;
export type CommandEnvelope = CommandEnvelopeV1;

/** The events of one frame: the same schema guards the write and the read. */
export const PaymentEvents = z.array(PaymentEvent).min(1);

/**
 * What an actor answers the sender of a command (core NATS, on the command's `Sy-Reply-To` subject):
 * - `settled`: the command is done and the payment is at rest (or the command changed nothing);
 * - `pending`: accepted, but waiting on a PSP (outcome unknown, PSP down): ask again later;
 * - `rejected`: the command was refused (the payment, if any, is unchanged).
 * Our own gateway reads it without re-validating (its own worker wrote it); an internal system
 * reads it with this schema (schemas/command-reply).
 */
export const CommandReply = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("settled"), payment: PaymentView }),
  z.object({ kind: z.literal("pending"), payment: PaymentView }),
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
