// What every PSP adapter shares: sending one JSON request with a deadline, and deciding what a
// failure means for money. The one question asked of every failure is "could the PSP have acted on
// this request?" — no: `technical_error` (safe to retry or fail over); maybe: `unknown` (only a status
// query to the same PSP may resolve it). When in doubt the answer is `unknown`.

import { Agent } from "undici";
import { SpanKind, endSpan, startSpan, traceparentOf, tracingEnabled } from "../../config/tracing.ts";
import type { ZodType } from "zod";
import { isCurrency, MAX_AMOUNT } from "../payment/core/money.ts";
import type { AuthorizeResult, StatusResult } from "./contract.ts";
import { declineClass, type DeclineCode, type TechnicalCode, type UnknownCode } from "./decline-codes.ts";
import { deadlineSignal } from "../../config/deadline.ts";

export type Failure =
  | { outcome: "technical_error"; code: TechnicalCode; class: "technical"; message: string }
  | { outcome: "unknown"; code: UnknownCode; class: "unknown"; message: string };

export type JsonRequest = {
  method: "GET" | "POST";
  url: string;
  timeoutMs: number;
  headers?: Record<string, string>;
  body?: unknown;
  traceparent?: string | undefined;
};

/** An HTTP answer. `body` is the parsed JSON, or undefined when the body was empty or not JSON. */
export type JsonReply = { status: number; body: unknown };

export type Exchanged = { ok: true; reply: JsonReply } | { ok: false; failure: Failure };

export const technicalError = (code: TechnicalCode, message: string): Failure => ({
  outcome: "technical_error",
  code,
  class: "technical",
  message,
});
export const unknownOutcome = (code: UnknownCode, message: string): Failure => ({
  outcome: "unknown",
  code,
  class: "unknown",
  message,
});

/**
 * Connections per PSP origin. Far above what one worker keeps in flight to a PSP; past it calls wait
 * for a free connection, and that wait counts against their deadline.
 */
const CONNECTIONS_PER_ORIGIN = 128;

// One keep-alive pool per PSP origin (the Agent keeps a Pool per origin), created on first use and
// reused by every call: a PSP call then costs a write on a warm socket, not a connect, and none of the
// WHATWG fetch machinery (Request/Response/Headers objects and web streams) per call.
let agent: Agent | undefined;
const dispatcher = (): Agent => (agent ??= new Agent({ connections: CONNECTIONS_PER_ORIGIN }));

/** Closes the PSP connections (waiting for calls in flight). A later call opens new ones. */
export async function closePspHttp(): Promise<void> {
  const closing = agent;
  agent = undefined;
  await closing?.close();
}

/**
 * One PSP call. Tracing on: a CLIENT span, a child of `req.traceparent`, whose own traceparent the
 * PSP receives; its status is the HTTP status, or an error for a failure (timeout, reset).
 */
export async function exchangeJson(req: JsonRequest): Promise<Exchanged> {
  if (!tracingEnabled()) return exchange(req, req.traceparent);
  const url = URL.canParse(req.url) ? new URL(req.url) : undefined;
  const span = startSpan(`${req.method} ${url?.host ?? "psp"}`, SpanKind.CLIENT, req.traceparent, {
    "http.request.method": req.method,
    ...(url !== undefined && { "server.address": url.hostname, "url.path": url.pathname }),
  })!;
  const ex = await exchange(req, traceparentOf(span));
  if (ex.ok) span.setAttribute("http.response.status_code", ex.reply.status);
  endSpan(
    span,
    ex.ok ? (ex.reply.status >= 500 ? new Error(`HTTP ${ex.reply.status}`) : undefined) : ex.failure.code,
  );
  return ex;
}

async function exchange(req: JsonRequest, traceparent: string | undefined): Promise<Exchanged> {
  const headers: Record<string, string> = { accept: "application/json", ...req.headers };
  if (req.body !== undefined) headers["content-type"] = "application/json";
  if (traceparent) headers.traceparent = traceparent;
  // One deadline for connecting, sending and reading the whole body: a PSP that stalls mid-body is as
  // undecided as one that never answers. undici's own header and body timeouts are set to the same
  // deadline so that its defaults (300 s) can never cut a longer one short.
  const deadline = deadlineSignal(req.timeoutMs);
  const signal = deadline.signal;
  try {
    const url = new URL(req.url);
    // dispatcher.request never follows redirects (a PSP API does not redirect, and following one
    // could turn a POST into a different request): a 3xx is an answer like any other.
    const res = await dispatcher().request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: req.method,
      headers,
      signal,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.timeoutMs,
      ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
    });
    const text = await res.body.text();
    return { ok: true, reply: { status: res.statusCode, body: parseJson(text) } };
  } catch (err) {
    return { ok: false, failure: classifyFailure(err, signal, req.timeoutMs) };
  } finally {
    deadline.clear();
  }
}

function parseJson(text: string): unknown {
  try {
    return text === "" ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

type SystemError = Error & { code?: string; syscall?: string };

/**
 * The errors that say what happened. undici rejects with the socket error itself (a wrapper without a
 * code defers to its `cause`); happy eyeballs tries several addresses and reports them together.
 */
function rootErrors(err: unknown): SystemError[] {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.flatMap(rootErrors);
  if (!(err instanceof Error)) return [];
  const e = err as SystemError;
  if (e.code === undefined && e.cause instanceof Error) return rootErrors(e.cause);
  return [e];
}

/**
 * The failures that happen before a single byte of the request leaves: the URL, the name lookup, the
 * TCP connect (refused or timed out). Anything later (reset, closed socket, timeout) may have reached
 * the PSP.
 */
function notSentCode(c: SystemError): TechnicalCode | undefined {
  if (c.code === "ECONNREFUSED") return "connection_refused";
  if (c.code === "UND_ERR_CONNECT_TIMEOUT" || c.code === "ERR_INVALID_URL") return "connection_failed";
  if (c.syscall === "connect" || c.syscall === "getaddrinfo") return "connection_failed";
  return undefined;
}

/** Our deadline (the signal), or undici's header or body timeout, which are set to the same deadline. */
const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_ABORTED"]);

/** What a failed exchange means for money: technical_error only when the request certainly did not leave. */
export function classifyFailure(
  err: unknown,
  signal: { readonly aborted: boolean },
  timeoutMs: number,
): Failure {
  const roots = rootErrors(err);
  const message = redact(roots[0]?.message ?? (err instanceof Error ? err.message : String(err)));
  const notSent = roots.map(notSentCode);
  // A connect that failed is not sent even if the deadline passed meanwhile.
  if (notSent.length > 0 && notSent.every((c) => c !== undefined))
    return technicalError(notSent[0]!, message);
  const timedOut =
    signal.aborted ||
    roots.some(
      (r) => r.name === "TimeoutError" || r.name === "AbortError" || TIMEOUT_CODES.has(r.code ?? ""),
    );
  if (timedOut) return unknownOutcome("timeout", `no complete answer within ${timeoutMs} ms`);
  // A reset, a closed socket, a malformed response or any other failure once connected: the request
  // may have arrived.
  return unknownOutcome("connection_reset", message);
}

/**
 * An answer the adapter has no specific meaning for. `notProcessed` is the PSP's explicit statement
 * that nothing was done (its outage answer), which is what lets a 503 be a technical error.
 */
export function unexpectedReply(reply: JsonReply, notProcessed = false): Failure {
  const { status } = reply;
  if (notProcessed) return technicalError("psp_unavailable", `PSP answered ${status}: request not processed`);
  if (status === 429) return technicalError("rate_limited", "PSP answered 429: request not processed");
  // 408 and 409 (an in-flight request with the same key) say nothing about whether it was acted on.
  if (status >= 500) return unknownOutcome("server_error", `PSP answered ${status}`);
  if (status === 408) return unknownOutcome("timeout", "PSP answered 408");
  if (status === 409) return unknownOutcome("bad_response", "PSP answered 409: request in progress");
  // A 4xx is the PSP refusing the request as such: nothing was done.
  if (status >= 400) return technicalError("not_processed", `PSP rejected the request with ${status}`);
  return unknownOutcome("bad_response", `PSP answered ${status} with a body the adapter cannot read`);
}

/** An amount no PSP could be asked for; checked before sending, so nothing was done. */
export function invalidAmount(amount: number, currency: string): Failure | undefined {
  if (!isCurrency(currency)) return technicalError("not_processed", `unsupported currency ${currency}`);
  if (!Number.isSafeInteger(amount) || amount < 1 || amount > MAX_AMOUNT) {
    return technicalError("not_processed", `amount ${amount} is not a positive integer in minor units`);
  }
  return undefined;
}

/** Parses a PSP body at the edge; undefined when it does not match (the caller decides: usually unknown). */
export function parseReply<T>(schema: ZodType<T>, body: unknown): T | undefined {
  const r = schema.safeParse(body);
  return r.success ? r.data : undefined;
}

export function unparseable(reply: JsonReply): Failure {
  return unknownOutcome("bad_response", `PSP answered ${reply.status} with a body the adapter cannot read`);
}

/** A status query that failed, whichever way: the question stays open. */
export function couldNotAsk(failure: Failure): StatusResult {
  return { found: "unknown", code: failure.code, message: failure.message };
}

/** A normalized decline with its class (decline-codes.ts); `soft` is the class being soft_decline. */
export function declined(
  code: DeclineCode,
  rawCode: string,
  pspReference?: string,
): Extract<AuthorizeResult, { outcome: "declined" }> {
  const cls = declineClass(code);
  return {
    outcome: "declined",
    code,
    class: cls,
    soft: cls === "soft_decline",
    rawCode,
    ...(pspReference ? { pspReference } : {}),
  };
}

/** Card numbers must never reach a message, even if a PSP echoes one back. */
export function redact(text: string): string {
  return text.replace(/\d[\d -]{10,22}\d/g, (m) => (m.replace(/\D/g, "").length >= 12 ? "[redacted]" : m));
}
