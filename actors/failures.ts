// One failure taxonomy for handling a command. Every error is classified once, here, and each class
// maps once to what happens to the message (Restate's terminal / retryable split is the model):
// - retry: infrastructure or PSP trouble (NATS, Redis, a socket): nothing is lost, the command is
//   redelivered after a delay and the events say exactly how far it got;
// - fenced: another copy of the payment wrote first: drop this copy's state, reload, decide again;
// - poison: it can never succeed as it is (undecodable command, a corrupt history, events our own
//   reader would reject, a card no key can open): dead-letter it now, so its partition moves on and
//   an operator can look at it.
import { SealError } from "../config/card-seal.ts";
import { deadLetter, nak, type Disposition } from "../streams/disposition.ts";
import { CorruptEventError, WrongLastSequenceError } from "../streams/event-store.ts";
import { InvalidEventError } from "./payment/journal.ts";

export type Failure =
  | { kind: "retry"; afterMs: number }
  | { kind: "fenced" }
  | { kind: "poison"; reason: PoisonReason; error: string };

export const PoisonReason = {
  undecodable: "undecodable",
  corruptHistory: "corrupt_history",
  invalidEvent: "invalid_event",
  unreadableCard: "unreadable_card",
  /** A command holding text no store can hold (a NUL, a lone surrogate): refused before anything is appended. */
  invalidText: "invalid_text",
} as const;
export type PoisonReason = (typeof PoisonReason)[keyof typeof PoisonReason];

/** The first delay before redelivering a command that failed for a reason we cannot see the end of (the actor grows it with the deliveries). */
export const UNCLASSIFIED_RETRY_MS = 1_000;

export function classify(err: unknown): Failure {
  if (err instanceof WrongLastSequenceError) return { kind: "fenced" };
  if (err instanceof CorruptEventError)
    return { kind: "poison", reason: PoisonReason.corruptHistory, error: err.message };
  if (err instanceof InvalidEventError)
    return { kind: "poison", reason: PoisonReason.invalidEvent, error: err.message };
  if (err instanceof SealError)
    return { kind: "poison", reason: PoisonReason.unreadableCard, error: err.message };
  return { kind: "retry", afterMs: UNCLASSIFIED_RETRY_MS };
}

/** The one mapping from a failure to the message's fate (fenced is handled in place, by reloading). */
export function dispositionOf(f: Failure): Disposition {
  switch (f.kind) {
    case "retry":
      return nak(f.afterMs);
    case "fenced":
      return nak(0);
    case "poison":
      return deadLetter(f.reason, f.error);
    default: {
      const never: never = f;
      return never;
    }
  }
}
