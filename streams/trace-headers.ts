// The trace context in NATS message headers: a TextMapGetter/Setter over nats `MsgHdrs`, so the
// propagator writes and reads `traceparent` / `tracestate` there as it does in HTTP headers. Used
// only with tracing on (config/tracing.ts); with it off the `traceparent` header is set by hand.
import {
  ROOT_CONTEXT,
  propagation,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/transport-node";

const setter: TextMapSetter<MsgHdrs> = {
  set: (h, key, value) => h.set(key, value),
};

const getter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (h) => h?.keys() ?? [],
  // MsgHdrs answers "" for a missing header; the propagator wants undefined.
  get: (h, key) => h?.get(key) || undefined,
};

/** Writes `span`'s context (traceparent, tracestate) into the message headers. */
export function injectSpan(h: MsgHdrs, span: Span): void {
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), h, setter);
}

/** The context the message headers carry; the root context when they carry none. */
export function extractContext(h: MsgHdrs | undefined): Context {
  return propagation.extract(ROOT_CONTEXT, h, getter);
}
