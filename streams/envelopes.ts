// The wire frame of PAY_CMD and PAY_EVT messages, without their domain content: streams/ stores and
// reads frames and sequences, and the payment actor (actors/payment/core/wire.ts) owns what is inside.
// Versioned: a reader accepts every version it knows; a writer writes the newest.
import { z } from "zod";

/** NATS headers the platform sets. */
export const Header = {
  replyTo: "Sy-Reply-To",
  traceparent: "traceparent",
} as const;

const frameBody = {
  paymentId: z.string(),
  /** 1-based number of the first event in this frame within the entity's history. */
  firstEventNo: z.number().int().positive(),
  /** Opaque here: the actor validates them before writing and parses them after reading. */
  events: z.array(z.unknown()).min(1),
  traceId: z.string().optional(),
};

/** Lowercase hex SHA-256, as streams/chain.ts writes it. */
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

/** Frames written before the history was chained: readable, never written any more. */
export const EventFrameV1 = z.object({ v: z.literal(1), ...frameBody });
export type EventFrameV1 = z.infer<typeof EventFrameV1>;

/**
 * A chained frame: `prev` is the SHA-256 of the exact stored bytes of the entity's previous frame
 * (its genesis value for the first one; streams/chain.ts), so an edit, removal or reordering of
 * stored history shows as a break (`npm run audit:verify`).
 */
export const EventFrameV2 = z.object({ v: z.literal(2), ...frameBody, prev: Sha256Hex });
export type EventFrameV2 = z.infer<typeof EventFrameV2>;

/** All events decided for one command: one JetStream message, so they land together or not at all. */
export const EventFrame = z.discriminatedUnion("v", [EventFrameV1, EventFrameV2]);
export type EventFrame = z.infer<typeof EventFrame>;

export function encode(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value));
}

/**
 * A message's bytes as text, read in place: `Buffer.from(uint8array)` copies them first (a NATS
 * message's data is a view into the connection's read buffer), one allocation per message for nothing.
 */
export function textOf(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
}

export function decodeJson(data: Uint8Array): unknown {
  return JSON.parse(textOf(data));
}
