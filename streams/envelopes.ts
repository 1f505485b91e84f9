// The wire frame of PAY_CMD and PAY_EVT messages, without their domain content: streams/ stores and
// reads frames and sequences, and the payment actor (actors/payment/wire.ts) owns what is inside.
// Versioned: a reader accepts every version it knows; a writer writes the newest.
import { z } from "zod";

/** NATS headers the platform sets. */
export const Header = {
  replyTo: "Sy-Reply-To",
  traceparent: "traceparent",
} as const;

/** All events decided for one command: one JetStream message, so they land together or not at all. */
export const EventFrame = z.object({
  v: z.literal(1),
  paymentId: z.string(),
  /** 1-based number of the first event in this frame within the entity's history. */
  firstEventNo: z.number().int().positive(),
  /** Opaque here: the actor validates them before writing and parses them after reading. */
  events: z.array(z.unknown()).min(1),
  traceId: z.string().optional(),
});
export type EventFrame = z.infer<typeof EventFrame>;

export function encode(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value));
}

export function decodeJson(data: Uint8Array): unknown {
  return JSON.parse(Buffer.from(data).toString("utf8"));
}
