// Stripe's Idempotency-Key semantics over the `stripe_idem` bucket (stores.ts): the first request with
// a key claims it with its keyed parameter fingerprint; its answer (status and exact bytes) is kept
// for 24 h and a replay answers those bytes with `Idempotent-Replayed: true`; the same key with other
// parameters is 400 idempotency_error; the same key while the first still runs is 409 (the SDK
// retries a 409, and then gets the replay). A claim left by a gateway that died is taken over after
// STALE_CLAIM_MS. Answers that say "try again" (5xx) are not kept: the key is released. Parameter
// errors never reach this (the routes validate first, as Stripe saves nothing for them).
import { createHmac } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { canonicalJson } from "../../actors/payment/core/ids.ts";
import type { Metrics } from "../../config/metrics.ts";
import { logFor } from "../context.ts";
import { invalidRequest, StripeApiError, toStripeError } from "./errors.ts";
import { StripeStores, type IdemRecord } from "./stores.ts";

export const STALE_CLAIM_MS = 60_000;

export type Answer = { status: number; body: unknown };

const KEY = /^[\x20-\x7e]{1,255}$/;

export class StripeIdempotency {
  constructor(
    private readonly stores: StripeStores,
    private readonly fingerprintKey: Buffer,
    private readonly metrics?: Metrics,
  ) {}

  /**
   * Runs `execute` once per (merchant, Idempotency-Key) and sends its answer; without a key, runs it
   * and sends. `params` are the request's parsed parameters (the fingerprint is over them, the
   * method and the path, keyed: never a card number in clear).
   */
  async run(req: FastifyRequest, reply: FastifyReply, params: unknown, execute: () => Promise<Answer>) {
    const raw = req.headers["idempotency-key"];
    if (raw === undefined) return send(reply, await settle(execute));
    if (typeof raw !== "string" || !KEY.test(raw))
      throw invalidRequest("Idempotency-Key must be 1 to 255 printable ASCII characters.", "Idempotency-Key");
    const fp = createHmac("sha256", this.fingerprintKey)
      .update(canonicalJson({ m: req.method, p: req.url.split("?")[0] ?? "", params }))
      .digest("hex");
    const key = StripeStores.idemKey(req.merchantId, raw);
    const revision = await this.claim(key, fp);
    if (typeof revision !== "number") return this.replay(reply, revision);
    const answer = await settle(execute);
    const body = JSON.stringify(answer.body);
    if (answer.status >= 500 || answer.status === 409) await this.stores.releaseIdem(key, revision);
    else {
      const done: IdemRecord = { s: "done", fp, at: Date.now(), status: answer.status, body };
      const stored = await this.stores.replaceIdem(key, done, revision).catch((err: unknown) => {
        logFor(req).error({ err }, "stripe idempotency: answer not kept; a retry runs again");
        return undefined;
      });
      if (stored === undefined) this.metrics?.stripeIdempotency.inc({ outcome: "not_kept" });
    }
    this.metrics?.stripeIdempotency.inc({ outcome: "first" });
    return reply.code(answer.status).type("application/json").send(body);
  }

  /** The claim's revision, or the kept answer of an earlier request with this key. */
  private async claim(key: string, fp: string): Promise<number | { status: number; body: string }> {
    for (let tries = 0; tries < 3; tries++) {
      const created = await this.stores.claimIdem(key, { s: "pending", fp, at: Date.now() });
      if (created !== undefined) return created;
      const existing = await this.stores.getIdem(key);
      if (existing === undefined) continue; // released meanwhile: claim again
      const r = existing.value;
      if (r.fp !== fp) {
        this.metrics?.stripeIdempotency.inc({ outcome: "mismatch" });
        throw new StripeApiError(
          400,
          "idempotency_error",
          "Keys for idempotent requests can only be used with the same parameters they were first " +
            "used with. Try using a key other than this one if you meant to execute a different request.",
        );
      }
      if (r.s === "done") return { status: r.status, body: r.body };
      if (Date.now() - r.at < STALE_CLAIM_MS) {
        this.metrics?.stripeIdempotency.inc({ outcome: "conflict" });
        throw new StripeApiError(
          409,
          "idempotency_error",
          "There is currently another in-progress request using this Idempotent Key (that probably " +
            "means you submitted twice, and the other request is still going through). Please try again later.",
          { code: "idempotency_key_in_use" },
        );
      }
      const taken = await this.stores.replaceIdem(
        key,
        { s: "pending", fp, at: Date.now() },
        existing.revision,
      );
      if (taken !== undefined) return taken;
    }
    throw new StripeApiError(409, "idempotency_error", "The Idempotency-Key is busy; try again.", {
      code: "idempotency_key_in_use",
    });
  }

  private replay(reply: FastifyReply, kept: { status: number; body: string }) {
    this.metrics?.stripeIdempotency.inc({ outcome: "replayed" });
    return reply
      .code(kept.status)
      .header("idempotent-replayed", "true")
      .type("application/json")
      .send(kept.body);
  }
}

async function settle(execute: () => Promise<Answer>): Promise<Answer> {
  try {
    return await execute();
  } catch (err) {
    const e = toStripeError(err);
    return { status: e.status, body: e.toBody() };
  }
}

function send(reply: FastifyReply, answer: Answer) {
  return reply.code(answer.status).type("application/json").send(JSON.stringify(answer.body));
}
