// A payment event frame as the process's followers read it (the payments read model, the webhook
// dispatcher): parsed and validated once per message, however many of them read it. The event tap
// (streams/event-tap.ts) hands them the same message object; what one validated, the next reuses.
import { jsonOf, type StreamMsg } from "../../streams/event-tap.ts";
import { EventFrame } from "../../streams/envelopes.ts";
import type { PaymentEvent } from "../payment/core/events.ts";
import { PaymentEvents } from "../payment/core/wire.ts";

export type PaymentFrame = {
  seq: number;
  paymentId: string;
  firstEventNo: number;
  /** Shared between readers: never changed. */
  events: readonly PaymentEvent[];
};

/**
 * ok, or why not: `undecodable` (not JSON, not an event frame: it never will be) or `unreadable`
 * (a frame whose events this version does not know: a newer writer's, readable after an upgrade).
 */
export type FrameReading =
  { ok: true; frame: PaymentFrame } | { ok: false; problem: "undecodable" | "unreadable"; message: string };

const readings = new WeakMap<StreamMsg, FrameReading>();

/**
 * Frames this process's journal appends (actors/payment/journal.ts), as its readers of PAY_EVT would
 * read them back, with the very bytes it published: the tap's message for one is then neither parsed
 * nor validated again (the journal validated those very events before the append) — when its bytes
 * are the ones remembered. Kept only while readers of this process follow the stream
 * (followAppendedFrames: the janitor always, the followers when they run here), and at most
 * MAX_REMEMBERED of each kind: a frame read by followers far behind is simply read from its bytes.
 *
 * Two kinds, because a reader may be handed the message before the append's acknowledgement comes
 * back (the janitor reads as messages come): `appending`, by subject, holds the frame being published
 * now (one per payment: its actor appends one frame at a time), and a message on that subject with
 * those very bytes takes it whatever its sequence; once acknowledged, a frame not yet read moves to
 * `appendedHere`, by `<seq> <subject>` (a follower reading in batches may read it after the payment's
 * next frame is being published). A message at that sequence and subject with other bytes (a stream
 * deleted and made again under the same name while the process runs) is read from its bytes.
 */
type Kept = { frame: Omit<PaymentFrame, "seq">; data: Uint8Array };
const appending = new Map<string, Kept>();
const appendedHere = new Map<string, { frame: PaymentFrame; data: Uint8Array }>();
const MAX_REMEMBERED = 1_024;
let followers = 0;
const stats = { remembered: 0, taken: 0, otherBytes: 0 };

/** Frames remembered and frames read from memory since the process started (tests read it). */
export const appendedFrameStats = (): Readonly<typeof stats> => ({ ...stats });

/** This process's readers follow the event stream from now on; the function returned stops that. */
export function followAppendedFrames(): () => void {
  followers++;
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    if (--followers === 0) {
      appending.clear();
      appendedHere.clear();
    }
  };
}

/**
 * The journal is about to publish `frame` (its events as the schema read them) on `subject` as
 * `data`; `written` are the events as the store encoded them. Remembered only when those are plain
 * JSON values with nothing JSON would change (no undefined, no -0, no non-finite number, no object
 * that is not a plain one): then the readers' reading of `data` is equal to `frame`.
 */
export function rememberAppending(
  subject: string,
  frame: Omit<PaymentFrame, "seq">,
  written: readonly unknown[],
  data: Uint8Array,
): void {
  if (followers === 0 || !jsonExact(written)) return;
  appending.delete(subject); // re-inserted last: the eviction below takes the oldest
  appending.set(subject, { frame, data });
  stats.remembered++;
  if (appending.size > MAX_REMEMBERED) appending.delete(appending.keys().next().value!);
}

/** The publish of `data` on `subject` failed: nothing was stored, nothing will be read. */
export function forgetAppending(subject: string, data: Uint8Array): void {
  if (appending.get(subject)?.data === data) appending.delete(subject);
}

/** `data`, published on `subject`, is stored at `seq`: kept by sequence if no reader took it yet. */
export function rememberAppended(subject: string, seq: number, data: Uint8Array): void {
  const kept = appending.get(subject);
  if (kept === undefined || kept.data !== data) return; // not remembered, or read already
  appending.delete(subject);
  appendedHere.set(`${seq} ${subject}`, { frame: { seq, ...kept.frame }, data });
  if (appendedHere.size > MAX_REMEMBERED) appendedHere.delete(appendedHere.keys().next().value!);
}

function takeAppended(m: StreamMsg): PaymentFrame | undefined {
  const key = `${m.seq} ${m.subject}`;
  const kept = appendedHere.get(key);
  if (kept !== undefined) {
    appendedHere.delete(key);
    if (!sameBytes(kept.data, m.data)) {
      stats.otherBytes++;
      return undefined;
    }
    stats.taken++;
    return kept.frame;
  }
  const sending = appending.get(m.subject);
  // Another frame of the payment (an older one, read by a reader behind) or another writer's: left
  // for the message that carries these bytes.
  if (sending === undefined || !sameBytes(sending.data, m.data)) return undefined;
  appending.delete(m.subject);
  stats.taken++;
  return { seq: m.seq, ...sending.frame };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.byteLength === b.byteLength &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    )
  );
}

/** Whether `v` survives JSON.stringify then JSON.parse unchanged. */
export function jsonExact(v: unknown): boolean {
  switch (typeof v) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0);
    case "object": {
      if (v === null) return true;
      if (Array.isArray(v)) return v.every(jsonExact);
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      for (const k in v) if (!jsonExact((v as Record<string, unknown>)[k])) return false;
      return !Object.hasOwn(v, "__proto__");
    }
    case "undefined":
    case "bigint":
    case "function":
    case "symbol":
      return false;
  }
}

export function readPaymentFrame(m: StreamMsg): FrameReading {
  let r = readingWithoutParse(m);
  if (r === undefined) {
    r = read(m);
    readings.set(m, r);
  }
  return r;
}

/** The frame, when this process has it without parsing (read already, or appended here). */
export function knownFrame(m: StreamMsg): PaymentFrame | undefined {
  const r = readingWithoutParse(m);
  return r?.ok ? r.frame : undefined;
}

/** What a reader of the process made of `m` already, or the frame appended here as `m`'s bytes. */
function readingWithoutParse(m: StreamMsg): FrameReading | undefined {
  const r = readings.get(m);
  if (r !== undefined) return r;
  const local = takeAppended(m);
  if (local === undefined) return undefined;
  const taken: FrameReading = { ok: true, frame: local };
  readings.set(m, taken);
  return taken;
}

function read(m: StreamMsg): FrameReading {
  let json: unknown;
  try {
    json = jsonOf(m);
  } catch {
    return { ok: false, problem: "undecodable", message: `message ${m.seq} on ${m.subject} is not JSON` };
  }
  const frame = EventFrame.safeParse(json);
  if (!frame.success)
    return {
      ok: false,
      problem: "undecodable",
      message: `message ${m.seq} on ${m.subject} is not an event frame`,
    };
  const events = PaymentEvents.safeParse(frame.data.events);
  if (!events.success)
    return { ok: false, problem: "unreadable", message: `frame ${m.seq} of ${frame.data.paymentId}` };
  return {
    ok: true,
    frame: {
      seq: m.seq,
      paymentId: frame.data.paymentId,
      firstEventNo: frame.data.firstEventNo,
      events: events.data,
    },
  };
}
