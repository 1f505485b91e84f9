// The JetStream API error codes the platform acts on, behind named predicates, so no store or
// consumer compares a bare number.
import { JetStreamApiError } from "@nats-io/jetstream";

export const JsErrorCode = {
  /** Nats-Expected-Last-Subject-Sequence did not match: someone else wrote first. */
  wrongLastSequence: 10071,
  streamNotFound: 10059,
} as const;
export type JsErrorCode = (typeof JsErrorCode)[keyof typeof JsErrorCode];

function hasCode(err: unknown, code: JsErrorCode): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

export const isWrongLastSequence = (err: unknown): boolean => hasCode(err, JsErrorCode.wrongLastSequence);
export const isStreamNotFound = (err: unknown): boolean => hasCode(err, JsErrorCode.streamNotFound);
