// W3C trace context at the HTTP edge: take a caller's `traceparent` when it is well formed, start a
// new trace when it is absent or malformed (as the spec says a receiver must), and expose the
// trace id that log lines and NATS headers carry. With tracing on, the request's span continues the
// caller's trace instead (gateway/context.ts traceHook).
import { randomHex } from "../config/random.ts";

export type TraceContext = { traceparent: string; traceId: string };

// version-traceid-parentid-flags; a future version may append fields after a dash.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

export function parseTraceparent(value: string | undefined): TraceContext | undefined {
  if (value === undefined) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, parentId, , rest] = m;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined;
  return { traceparent: m[0], traceId: traceId! };
}

export function newTrace(): TraceContext {
  const traceId = randomHex(16);
  return { traceparent: `00-${traceId}-${randomHex(8)}-01`, traceId };
}
