// What becomes of a PAY_CMD message once an actor is done with it. The one mapping from outcomes
// to JetStream settlement: a decided or rejected command is acked (rejection is terminal), work
// waiting on a PSP or lost to a fence/crash is nak'd with a delay, an undecodable message is termed.
export type Disposition =
  { kind: "ack" } | { kind: "nak"; delayMs: number } | { kind: "term"; reason: string };

export const ack: Disposition = { kind: "ack" };
export const nak = (delayMs: number): Disposition => ({ kind: "nak", delayMs });
export const term = (reason: string): Disposition => ({ kind: "term", reason });

/** Redelivery backoff for commands waiting on a PSP: 1 s, 2 s, 4 s … capped at 60 s. */
export function retryDelayMs(deliveryCount: number): number {
  return Math.min(60_000, 1_000 * 2 ** Math.max(0, Math.min(deliveryCount - 1, 6)));
}
