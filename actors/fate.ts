// The one place a PAY_CMD message's fate is decided: what came of handling it (the outcome), where
// it is in its deliveries and the payment's retry terms → ack, nak with a delay, or dead letter (a
// PAY_DLQ record, then a plain term). Every path calls dispositionFor: the payment actor, the
// worker (undecodable or unsafe commands, an actor that did not answer) and, through the
// ConsumerFate the worker gives it, the command consumer for its own failures. Pure.
//
// max_deliver is applied here too: on the last delivery JetStream will make, a nak would be dropped
// without a trace, so a command that would be retried again is dead-lettered (`retries_exhausted`).
import type { RetryTerms } from "./policy/core/decision.ts";
import { MAX_REDELIVERY_MS, redeliveryDelayMs } from "./policy/core/retry.ts";
import {
  ack,
  deadLetter,
  nak,
  type ConsumerFailure,
  type Delivery,
  type Disposition,
} from "../streams/disposition.ts";

export const PoisonReason = {
  undecodable: "undecodable",
  corruptHistory: "corrupt_history",
  invalidEvent: "invalid_event",
  unreadableCard: "unreadable_card",
  /** A command holding text no store can hold (a NUL, a lone surrogate): refused before anything is appended. */
  invalidText: "invalid_text",
  // Refused where the worker takes a command off the stream (actors/command-checks.ts), each answered
  // to the sender as a typed error (docs/nats-client.md):
  /** The envelope names a version this worker does not know. */
  unsupportedVersion: "unsupported_version",
  /** The subject's merchant token is not the command's merchantId (the server let the sender publish there). */
  merchantMismatch: "merchant_mismatch",
  /** The subject's partition or payment id is not the command's (it would reach the wrong consumer). */
  subjectMismatch: "subject_mismatch",
  /** The command names a payment that belongs to another merchant. */
  foreignPayment: "foreign_payment",
  cardTokenInvalid: "card_token_invalid",
  cardTokenExpired: "card_token_expired",
  /** The JSON repeats a key in one object: which one counts depends on who reads it. */
  duplicateKey: "duplicate_key",
  /** A card number in clear somewhere in the message: masked in the dead letter, erased from PAY_CMD. */
  cardNumberInCommand: "card_number_in_command",
} as const;
export type PoisonReason = (typeof PoisonReason)[keyof typeof PoisonReason];

/** Still retrying on the last delivery JetStream will make (see dispositionFor). */
export const RETRIES_EXHAUSTED = "retries_exhausted";
/** Every reason a dead letter can carry: what `GET /ops/dead-letters` documents, from this list. */
export const DEAD_LETTER_REASONS: readonly string[] = [...Object.values(PoisonReason), RETRIES_EXHAUSTED];

/** What handling an error came to (actors/failures.ts classifies each error into one of these). */
export type Failure =
  | { kind: "retry" }
  | { kind: "fenced" }
  | { kind: "poison"; reason: PoisonReason; error: string; redact?: boolean };

/** What came of handling a command, as the paths that handle it see it. */
export type Outcome =
  /** Decided, rejected, repeated (first result), or nothing to do. */
  | { kind: "done" }
  /**
   * The payment waits on a PSP (unreachable, undecided, no progress). `janitor`: a ResumePayment,
   * whose retries the janitor owns with its own backoff, so it never fills the dead-letter stream.
   */
  | { kind: "waits_on_psp"; janitor: boolean }
  /** The payment's own retry timer: the next attempt may not be sent before `notBefore`. */
  | { kind: "backoff"; notBefore: string; now: Date }
  | Failure
  /** The payment actor did not answer in time (or is gone). */
  | { kind: "no_answer" }
  | ConsumerFailure;

/**
 * The first delay before redelivering a command whose failure we cannot see the end of (NATS,
 * Redis, a socket, an actor that did not answer), doubled on each delivery and capped at
 * MAX_REDELIVERY_MS: 1, 2, 4 … 60 s, so the default 20 deliveries span ~15 minutes of trouble.
 * Not the payment's retry terms: those pace PSP retries, not our infrastructure.
 */
export const UNCLASSIFIED_RETRY_MS = 1_000;
/** Another writer kept winning the fence for every round: it is busy with this payment right now. */
export const FENCED_RETRY_MS = 100;
/** PAY_DLQ refused a dead letter: try the whole message again a little later. */
export const DEAD_LETTER_UNSTORED_RETRY_MS = 5_000;

export function unclassifiedDelayMs(deliveryCount: number): number {
  const k = Math.max(1, Math.min(Math.floor(deliveryCount), 30));
  return Math.min(MAX_REDELIVERY_MS, UNCLASSIFIED_RETRY_MS * 2 ** (k - 1));
}

/** The fate of a message: `terms` are the payment's retry terms, when the payment is known. */
export function dispositionFor(outcome: Outcome, delivery: Delivery, terms?: RetryTerms): Disposition {
  const retry = (delayMs: number): Disposition =>
    delivery.deliveryCount >= delivery.maxDeliver
      ? deadLetter(RETRIES_EXHAUSTED, `still retrying after ${delivery.deliveryCount} deliveries`)
      : nak(delayMs);
  switch (outcome.kind) {
    case "done":
      return ack;
    case "waits_on_psp":
      return outcome.janitor ? ack : retry(redeliveryDelayMs(terms, delivery.deliveryCount));
    case "backoff":
      return retry(Date.parse(outcome.notBefore) - outcome.now.getTime());
    case "retry":
    case "no_answer":
    case "handler_failed":
      return retry(unclassifiedDelayMs(delivery.deliveryCount));
    case "fenced":
      return retry(FENCED_RETRY_MS);
    case "poison":
      return deadLetter(outcome.reason, outcome.error, outcome.redact);
    case "dead_letter_unstored":
      // Not recorded, so not terminated, even on the last delivery: a dead letter is what just
      // failed, and a nak at least leaves the message in the stream (see docs/failures.md).
      return nak(DEAD_LETTER_UNSTORED_RETRY_MS);
    default: {
      const never: never = outcome;
      return never;
    }
  }
}
