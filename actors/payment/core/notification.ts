// A PSP's notification as the payment understands it, whatever the PSP's wire format: each connector
// verifies its PSP's signature and normalizes into this (actors/psp/*.ts parseNotification); the
// payment's decider (decide-notified.ts) maps it onto events. Things that happen after the PSP call:
// a 3-D Secure result, a refund completed later, a chargeback opened or closed.
import { z } from "zod";
import { At, Currency } from "./contract.ts";

const Base = {
  /** The PSP's own id of the notification: the same notification sent twice has the same id. */
  id: z.string().min(1).max(256),
  psp: z.string().min(1).max(64),
  /** Our payment id, as we sent it to the PSP as its reference. */
  paymentReference: z.string().min(1).max(256),
  /** The PSP's reference of the payment (charge). */
  pspReference: z.string().min(1).max(256),
  /** When the PSP says it happened. */
  at: At,
};

export const PspNotification = z.discriminatedUnion("kind", [
  z.object({
    ...Base,
    kind: z.literal("authorization"),
    outcome: z.enum(["authorized", "declined"]),
    /** authorized: whether the PSP captured too (automatic capture). */
    captured: z.boolean().optional(),
    /** declined: our decline code (actors/psp/decline-codes.ts) and the PSP's own. */
    code: z.string().min(1).max(64).optional(),
    rawCode: z.string().max(128).optional(),
  }),
  z.object({
    ...Base,
    kind: z.literal("refund"),
    /** The refund's own PSP reference, as the refund call answered it. */
    operationReference: z.string().min(1).max(256),
    outcome: z.enum(["succeeded", "failed"]),
    code: z.string().max(64).optional(),
  }),
  z.object({
    ...Base,
    kind: z.literal("dispute_opened"),
    disputeId: z.string().min(1).max(256),
    amount: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    currency: Currency,
    reason: z.string().max(256),
  }),
  z.object({
    ...Base,
    kind: z.literal("dispute_closed"),
    disputeId: z.string().min(1).max(256),
    outcome: z.enum(["won", "lost"]),
  }),
]);
export type PspNotification = z.infer<typeof PspNotification>;
