// What becomes of a PAY_CMD message once its handler is done with it: the one mapping from a
// handler's verdict to JetStream settlement. Done → ack; retry after a time → nak with that delay;
// dead letter → a record in PAY_DLQ first, then term (so the partition moves on and nothing is lost).
export type Disposition =
  { kind: "ack" } | { kind: "nak"; delayMs: number } | { kind: "dead_letter"; reason: string; error: string };

export const ack: Disposition = { kind: "ack" };
export const nak = (delayMs: number): Disposition => ({
  kind: "nak",
  delayMs: Math.max(0, Math.round(delayMs)),
});
export const deadLetter = (reason: string, error: string): Disposition => ({
  kind: "dead_letter",
  reason,
  error,
});
