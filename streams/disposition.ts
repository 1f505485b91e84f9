// What becomes of a PAY_CMD message once its handler is done with it, in JetStream's terms. Done →
// ack; retry after a time → nak with that delay; dead letter → a record in PAY_DLQ first, then term
// (so the partition moves on and nothing is lost). Which one a message gets is a domain rule and is
// not decided here: actors/fate.ts (dispositionFor) decides every message's fate, including for the
// consumer's own failures, which the consumer is given as a ConsumerFate.
export type Disposition =
  | { kind: "ack" }
  | { kind: "nak"; delayMs: number }
  /**
   * `redact`: the message holds what must not be kept (a card number): its dead letter stores a
   * masked copy, and the original is erased from PAY_CMD (secure delete) rather than only terminated.
   */
  | { kind: "dead_letter"; reason: string; error: string; redact?: boolean };

export const ack: Disposition = { kind: "ack" };
export const nak = (delayMs: number): Disposition => ({
  kind: "nak",
  delayMs: Math.max(0, Math.round(delayMs)),
});
export const deadLetter = (reason: string, error: string, redact?: boolean): Disposition => ({
  kind: "dead_letter",
  reason,
  error,
  ...(redact === true && { redact }),
});

/** Where a message is in its deliveries: its count (1 = first) and the last one JetStream will make. */
export type Delivery = { deliveryCount: number; maxDeliver: number };

/**
 * What went wrong in the consumer itself, where no handler gave a verdict:
 * - handler_failed: the handler threw instead of answering;
 * - dead_letter_unstored: PAY_DLQ refused the record, so the message must not be terminated.
 */
export type ConsumerFailure = { kind: "handler_failed" } | { kind: "dead_letter_unstored" };

/** The rule the consumer is given for its own failures (the same rule that decides every other fate). */
export type ConsumerFate = (failure: ConsumerFailure, delivery: Delivery) => Disposition;
