// One attempt of a webhook delivery: the POST to the endpoint, signed as Standard Webhooks says (or
// as Stripe signs, for a Stripe-format endpoint), with the URL judged again at send time and the
// connection's name lookup guarded (actors/webhooks/url-resolve.ts), never following a redirect,
// within the timeout; its outcome — a status, or a short secret-free name of what went wrong — and
// the first KiB of the answer. The sender (./sender.ts) decides when, and records it.
import type { LookupFunction } from "node:net";
import { Agent, request } from "undici";
import { deadlineSignal } from "../../config/deadline.ts";
import { SpanKind, endSpan, startSpan, traceparentOf } from "../../config/tracing.ts";
import type { MerchantEvent } from "./core/catalog.ts";
import { signedHeaders } from "./core/signature.ts";
import { stripeEventOf, stripeSignature } from "./core/stripe-objects.ts";
import { signingSecrets } from "./endpoints.ts";
import { RESPONSE_EXCERPT_BYTES, type Attempt, type Claimed } from "./store.ts";

export type PosterOptions = {
  cardKeys: readonly Buffer[];
  timeoutMs: number;
  checkUrl?: (url: string) => Promise<string | undefined>;
  lookup?: LookupFunction;
};

export class WebhookPoster {
  readonly #agent: Agent;
  readonly #secrets = new Map<string, { key: string; secrets: string[]; until: number | undefined }>();

  constructor(private readonly o: PosterOptions) {
    // Redirects are never followed (undici's request does not, without its redirect interceptor).
    this.#agent = new Agent({
      connect: { timeout: o.timeoutMs, ...(o.lookup && { lookup: o.lookup }) },
      connections: 64,
    });
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  /** The endpoint's secrets in clear, opened once per sealed value (a rotation seals new ones). */
  private secrets(c: Claimed, at: Date): string[] {
    const key = `${c.secret_sealed}|${c.previous_secret_sealed ?? ""}|${c.previous_secret_expires_at?.getTime() ?? ""}`;
    const cached = this.#secrets.get(c.endpoint_id);
    if (cached?.key === key && (cached.until === undefined || cached.until > at.getTime()))
      return cached.secrets;
    const secrets = signingSecrets(c, this.o.cardKeys, at);
    const expires = c.previous_secret_expires_at?.getTime();
    this.#secrets.set(c.endpoint_id, {
      key,
      secrets,
      // While the previous secret signs too, until its grace period ends.
      until: expires !== undefined && expires > at.getTime() ? expires : undefined,
    });
    if (this.#secrets.size > 10_000) this.#secrets.clear();
    return secrets;
  }

  /** One POST; never throws: a network error or timeout is an outcome like a status. */
  async post(c: Claimed, at: Date): Promise<Omit<Attempt, "at" | "latency_ms">> {
    let host = "invalid";
    try {
      host = new URL(c.url).host;
    } catch {
      return { status: null, error: "invalid_url", response: null };
    }
    const refused = await this.o.checkUrl?.(c.url);
    if (refused !== undefined) return { status: null, error: `refused: ${refused}`, response: null };
    // Stripe-format endpoints get Stripe's event, built from the stored one at each attempt.
    const stripe = c.format === "stripe";
    let body = c.body;
    try {
      if (stripe) body = JSON.stringify(stripeEventOf(JSON.parse(c.body) as MerchantEvent));
    } catch {
      return { status: null, error: "stripe_event_unrenderable", response: null };
    }
    const span = startSpan(`POST ${host}`, SpanKind.CLIENT, c.traceparent ?? undefined, {
      "http.request.method": "POST",
      "server.address": host,
      "switchyard.webhook.event_id": c.event_id,
      "switchyard.webhook.endpoint_id": c.endpoint_id,
    });
    const deadline = deadlineSignal(this.o.timeoutMs);
    try {
      const headers: Record<string, string> = {
        ...(stripe
          ? { "stripe-signature": stripeSignature(this.secrets(c, at), at, body) }
          : signedHeaders(this.secrets(c, at), c.event_id, at, body)),
        "content-type": "application/json",
        "user-agent": "Switchyard-Webhooks/1",
      };
      if (span !== undefined) headers.traceparent = traceparentOf(span);
      const res = await request(c.url, {
        method: "POST",
        headers,
        body,
        dispatcher: this.#agent,
        signal: deadline.signal,
      });
      const response = await excerpt(res.body);
      span?.setAttribute("http.response.status_code", res.statusCode);
      endSpan(span, res.statusCode >= 300 ? `HTTP ${res.statusCode}` : undefined);
      return { status: res.statusCode, error: null, response };
    } catch (err) {
      endSpan(span, err);
      return { status: null, error: errorName(err), response: null };
    } finally {
      deadline.clear();
    }
  }
}

/** The first KiB of the response (UTF-8, cut on a character), the rest read and dropped. */
async function excerpt(body: AsyncIterable<Buffer>): Promise<string | null> {
  const kept: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < RESPONSE_EXCERPT_BYTES) kept.push(chunk.subarray(0, RESPONSE_EXCERPT_BYTES - size));
    size += chunk.length;
  }
  if (size === 0) return null;
  return Buffer.concat(kept)
    .toString("utf8")
    .replace(/\uFFFD+$/, "");
}

/** A short, secret-free name of what went wrong (never the request: it carries the signature). */
function errorName(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === "TimeoutError" || err.name === "AbortError") return "timeout";
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? code : err.name;
  }
  return "error";
}
