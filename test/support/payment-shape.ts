// The Payment union of actors/payment/core/state.ts as a run-time check, for property tests: what the
// compiler holds evolve() to, checked on the values it really produces (and on what JSON gives back).
// Each status's required fields present, the ones it cannot have absent; attempts, operations and
// disputes likewise by their own status.
import { z } from "zod";

const absent = z.never().optional();
const text = z.string().min(1);

const attemptBase = {
  no: z.number().int().positive(),
  psp: text,
  idempotencyKey: text,
  requestedAt: text,
  code: z.string().optional(),
  pspReference: z.string().optional(),
};
const Attempt = z.discriminatedUnion("status", [
  z.looseObject({
    ...attemptBase,
    status: z.literal("pending"),
    code: absent,
    pspReference: absent,
    completedAt: absent,
  }),
  z.looseObject({ ...attemptBase, status: z.literal("unknown"), code: text, completedAt: absent }),
  z.looseObject({ ...attemptBase, status: z.literal("authorized"), pspReference: text, completedAt: text }),
  z.looseObject({
    ...attemptBase,
    status: z.literal("requires_action"),
    pspReference: text,
    completedAt: text,
  }),
  z.looseObject({ ...attemptBase, status: z.literal("declined"), code: text, completedAt: text }),
  z.looseObject({ ...attemptBase, status: z.literal("failed"), code: text, completedAt: text }),
  z.looseObject({ ...attemptBase, status: z.literal("expired"), completedAt: text }),
]);

const operationBase = { id: text, amount: z.number(), requestedAt: text, code: z.string().optional() };
const Operation = z.discriminatedUnion("status", [
  z.looseObject({
    ...operationBase,
    status: z.literal("pending"),
    code: absent,
    pspReference: absent,
    completedAt: absent,
  }),
  z.looseObject({ ...operationBase, status: z.literal("unknown"), code: text, completedAt: absent }),
  z.looseObject({ ...operationBase, status: z.literal("accepted"), pspReference: text, completedAt: absent }),
  z.looseObject({ ...operationBase, status: z.literal("succeeded"), pspReference: text, completedAt: text }),
  z.looseObject({ ...operationBase, status: z.literal("failed"), code: text, completedAt: text }),
]);

const Dispute = z.discriminatedUnion("status", [
  z.looseObject({ id: text, status: z.literal("open"), closedAt: absent }),
  z.looseObject({ id: text, status: z.enum(["won", "lost"]), closedAt: text }),
]);

const paymentBase = {
  id: text,
  attempts: z.array(Attempt),
  operations: z.array(Operation),
  disputes: z.array(Dispute).optional(),
};
const noCodes = { declineCode: absent, failureCode: absent, actionUrl: absent };
const held = { psp: text, pspReference: text };

export const PaymentShape = z.discriminatedUnion("status", [
  z.looseObject({
    ...paymentBase,
    ...noCodes,
    status: z.literal("created"),
    psp: absent,
    pspReference: absent,
  }),
  z.looseObject({ ...paymentBase, ...noCodes, status: z.literal("authorizing"), psp: text }),
  ...(
    ["authorized", "capturing", "captured", "partially_refunded", "refunded", "canceled", "expired"] as const
  ).map((status) => z.looseObject({ ...paymentBase, ...noCodes, ...held, status: z.literal(status) })),
  z.looseObject({
    ...paymentBase,
    ...held,
    status: z.literal("requires_action"),
    actionUrl: text,
    declineCode: absent,
    failureCode: absent,
  }),
  z.looseObject({
    ...paymentBase,
    status: z.literal("declined"),
    declineCode: text,
    failureCode: absent,
    actionUrl: absent,
  }),
  z.looseObject({
    ...paymentBase,
    status: z.literal("failed"),
    failureCode: text,
    declineCode: absent,
    actionUrl: absent,
  }),
]);

/** The first way `value` is not a Payment of the union, or undefined when it is one. */
export function outsideTheUnion(value: unknown): string | undefined {
  const r = PaymentShape.safeParse(value);
  if (r.success) return undefined;
  const i = r.error.issues[0];
  return i ? `${i.path.join(".")}: ${i.message}` : "not a payment";
}
