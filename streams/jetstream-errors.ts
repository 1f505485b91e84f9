// The JetStream API error codes the platform acts on, behind named predicates, so no store or
// consumer compares a bare number, and each condition is tested in one place.
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

function hasCode(err: unknown, ...codes: number[]): boolean {
  return err instanceof JetStreamApiError && codes.includes(err.code);
}

/**
 * An expected-last-sequence header did not match: someone else wrote first. Also when the server
 * could not tell (StreamWrongLastSequenceUnknown): either way the writer reloads and decides again,
 * which is always safe.
 */
export const isWrongLastSequence = (err: unknown): boolean =>
  hasCode(err, JetStreamApiCodes.StreamWrongLastSequence, JetStreamApiCodes.StreamWrongLastSequenceUnknown);

export const isStreamNotFound = (err: unknown): boolean => hasCode(err, JetStreamApiCodes.StreamNotFound);

/** JetStream's "replicas > 1 not supported in non-clustered mode": a single server was asked for copies. */
export const isReplicasNotSupported = (err: unknown): boolean => hasCode(err, 10074);

/** JetStream's "no suitable peers for placement": fewer servers (up) than the replicas asked for. */
export const isNoSuitablePeers = (err: unknown): boolean => hasCode(err, 10005);

/**
 * No JetStream server answered the request ("no responders"): the stream has no leader right now (an
 * election after its node died) or JetStream is away. nats.js names it JetStreamNotEnabled, a class
 * it does not export; nothing was stored.
 */
export const isNoResponders = (err: unknown): boolean =>
  err instanceof Error && err.name === "JetStreamNotEnabled";
