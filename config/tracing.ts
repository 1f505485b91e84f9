// OpenTelemetry tracing, process-wide: off unless an OTLP endpoint is configured, and then spans are
// exported over OTLP/HTTP (JSON) in batches. Off, nothing is registered and every helper here
// returns before touching the API: the code paths cost one boolean test. The W3C `traceparent`
// string is the carrier between our modules (HTTP edge, NATS headers, the actor, PSP calls), so a
// span is made a child of the one before it by extracting that string, with no reliance on async
// context flowing through nact's mailboxes or fastify's body parsing.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

export { SpanKind };
export type { Span };

let provider: NodeTracerProvider | undefined;
/** What startTracing was started with, for a worker thread to start its own the same way. */
let startedWith: TracingStart | undefined;

export type TracingStart = { serviceName: string; env: Record<string, string> };

/** How this thread's tracing was started (its service name and OTEL_* settings); undefined when off. */
export function tracingStart(): TracingStart | undefined {
  return startedWith;
}

/** True between startTracing (with an endpoint) and shutdownTracing. */
export function tracingEnabled(): boolean {
  return provider !== undefined;
}

/**
 * The OTLP traces URL the environment asks for, as the OTLP exporter specification reads it: the
 * per-signal variable as is, or the base endpoint with `/v1/traces`; undefined when tracing is off.
 */
export function tracesEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  if ((env.OTEL_SDK_DISABLED ?? "").trim().toLowerCase() === "true") return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base) return `${base.replace(/\/+$/, "")}/v1/traces`;
  return undefined;
}

/**
 * Starts exporting spans when the environment names an OTLP endpoint; otherwise does nothing and
 * the API stays its no-op. Idempotent: a second call while on is ignored. The exporter reads the
 * other OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression) itself.
 */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (provider !== undefined) return true;
  const url = tracesEndpoint(env);
  if (url === undefined) return false;
  const delay = Number(env.OTEL_BSP_SCHEDULE_DELAY);
  provider = new NodeTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME?.trim() || serviceName }),
    ),
    spanProcessors: [
      new BatchSpanProcessor(
        new OTLPTraceExporter({ url }),
        Number.isFinite(delay) && delay > 0 ? { scheduledDelayMillis: delay } : {},
      ),
    ],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  startedWith = {
    serviceName,
    env: Object.fromEntries(
      Object.entries(env).filter(
        (e): e is [string, string] => e[0].startsWith("OTEL_") && e[1] !== undefined,
      ),
    ),
  };
  return true;
}

/** Exports what is buffered and turns tracing off (the API back to its no-op). */
export async function shutdownTracing(): Promise<void> {
  const p = provider;
  if (p === undefined) return;
  provider = undefined;
  startedWith = undefined;
  try {
    await p.shutdown();
  } finally {
    trace.disable();
    context.disable();
    propagation.disable();
  }
}

/** The context a `traceparent` (and `tracestate`) string describes; the root context when absent. */
export function contextFrom(traceparent: string | undefined, tracestate?: string): Context {
  if (!traceparent) return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent };
  if (tracestate) carrier.tracestate = tracestate;
  return propagation.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

/** The `traceparent` that makes the receiver a child of `span`. */
export function traceparentOf(span: Span): string {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier.traceparent ?? "";
}

/**
 * A span child of `parent` (a traceparent string or a context), or undefined when tracing is off:
 * callers then do exactly what they did before tracing existed.
 */
export function startSpan(
  name: string,
  kind: SpanKind,
  parent: string | Context | undefined,
  attributes?: Attributes,
): Span | undefined {
  if (provider === undefined) return undefined;
  const ctx = typeof parent === "object" ? parent : contextFrom(parent);
  return trace.getTracer("switchyard").startSpan(name, { kind, ...(attributes && { attributes }) }, ctx);
}

/** Ends a span, marking it failed when `err` is given. */
export function endSpan(span: Span | undefined, err?: unknown): void {
  if (span === undefined) return;
  if (err !== undefined) {
    const message = err instanceof Error ? err.message : typeof err === "string" ? err : "failed";
    span.setStatus({ code: SpanStatusCode.ERROR, message });
    if (err instanceof Error) span.recordException(err);
  }
  span.end();
}

/** Runs `fn` with `span` as the active span (so log lines written inside carry its ids). */
export function withSpan<T>(span: Span | undefined, fn: () => T): T {
  if (span === undefined) return fn();
  return context.with(trace.setSpan(context.active(), span), fn);
}

/** The active span's ids for a log line; empty when there is none. */
export function activeTraceFields(): { traceId?: string; spanId?: string } {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}
