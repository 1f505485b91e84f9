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

export function readPaymentFrame(m: StreamMsg): FrameReading {
  let r = readings.get(m);
  if (!r) {
    r = read(m);
    readings.set(m, r);
  }
  return r;
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
