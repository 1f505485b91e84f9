// What every PSP adapter shares: sending one JSON request with a deadline, and deciding what a
// failure means for money. The one question asked of every failure is "could the PSP have acted on
// this request?" — no: `technical_error` (safe to retry or fail over); maybe: `unknown` (only a status
// query to the same PSP may resolve it). When in doubt the answer is `unknown`.

import type { ZodType } from "zod";
import { isCurrency, MAX_AMOUNT } from "../payment/money.ts";
import type { AuthorizeResult, StatusResult } from "./contract.ts";
import { declineClass, type DeclineCode, type TechnicalCode, type UnknownCode } from "./decline-codes.ts";

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

export async function exchangeJson(req: JsonRequest): Promise<Exchanged> {
  const headers: Record<string, string> = { accept: "application/json", ...req.headers };
  if (req.body !== undefined) headers["content-type"] = "application/json";
  if (req.traceparent) headers.traceparent = req.traceparent;
  // One deadline for connecting, sending and reading the whole body: a PSP that stalls mid-body is as
  // undecided as one that never answers.
  const signal = AbortSignal.timeout(req.timeoutMs);
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers,
      signal,
      // A PSP API does not redirect; following one could turn a POST into a different request.
      redirect: "manual",
      ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
    });
    const text = await res.text();
    return { ok: true, reply: { status: res.status, body: parseJson(text) } };
  } catch (err) {
    return { ok: false, failure: classifyFetchError(err, signal, req.timeoutMs) };
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
 * The failures that happen before a single byte of the request leaves: the URL, the name lookup, the
 * TCP connect. Anything later (reset, closed socket, timeout) may have reached the PSP.
 */
function notSentCode(c: SystemError): TechnicalCode | undefined {
  if (c.code === "ECONNREFUSED") return "connection_refused";
  if (c.syscall === "connect" || c.syscall === "getaddrinfo" || c.code === "ERR_INVALID_URL")
    return "connection_failed";
  if (c.message === "bad port") return "connection_failed"; // fetch refuses some ports before connecting
  return undefined;
}

function classifyFetchError(err: unknown, signal: AbortSignal, timeoutMs: number): Failure {
  if (signal.aborted || (err instanceof Error && err.name === "TimeoutError")) {
    return unknownOutcome("timeout", `no complete answer within ${timeoutMs} ms`);
  }
  const cause = err instanceof Error ? (err.cause as SystemError | undefined) : undefined;
  // Happy eyeballs tries several addresses and reports them together: each must have failed to connect.
  const causes = cause instanceof AggregateError ? (cause.errors as SystemError[]) : cause ? [cause] : [];
  const message = redact(causes[0]?.message ?? (err instanceof Error ? err.message : String(err)));
  const notSent = causes.map(notSentCode);
  if (notSent.length > 0 && notSent.every((c) => c !== undefined))
    return technicalError(notSent[0]!, message);
  // A reset, a closed socket or any other failure once connected: the request may have arrived.
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
