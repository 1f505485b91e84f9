// How the sandbox answers one request, whatever the PSP: outage first (nothing processed, nothing
// stored), then the injected authorization failure (the same "not processed" answer, for a share of
// authorizations), then idempotent replay, then processing, then the injected fault, the latency and
// the injected timeout. The order matters: a replay must never process twice, and a delay, a timeout
// or a fault must only ever hide an outcome that has already happened, as a slow network or a
// crashing proxy would.

import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyReply } from "fastify";
import type { ZodType } from "zod";
import type { SimulatedPsp, WireReply } from "./simulator.ts";

/** What every wire module gets from the sandbox around it. */
export type SandboxContext = {
  /** Aborted when the sandbox closes, so no pending delay outlives it. */
  closing: AbortSignal;
  slowCardDelayMs: number;
  now(): Date;
  /** In [0, 1): decides which requests the failure and timeout rates hit. */
  random(): number;
  /**
   * A refund taken for later (behaviour asyncRefunds): it ends after a while, succeeded or failed
   * (behaviour refundsFail, as it stood when taken), and the PSP notifies that end.
   */
  refundLater(psp: SimulatedPsp, chargeId: string, refundId: string): void;
};

export type Exchange = {
  psp: SimulatedPsp;
  /** The PSP's own "service unavailable, request not processed" answer. */
  outage: WireReply;
  /** An authorization (the only requests `failureRate` applies to). */
  authorization?: boolean;
  /** Present when the request carries an idempotency key: answers are stored under it. */
  idempotency?: { key: string; fingerprint: string; conflict: WireReply };
  /** Does the work; `delayMs` holds back only this first answer (the slow test card). */
  process(): { reply: WireReply; delayMs?: number };
};

export async function answer(ctx: SandboxContext, reply: FastifyReply, ex: Exchange): Promise<FastifyReply> {
  const { behaviour } = ex.psp;
  let wire: WireReply;
  let extraDelayMs = 0;
  let replayed = false;
  ex.psp.requests.total++;
  if (ex.authorization) ex.psp.requests.authorizations++;
  // Rolled only when the rate is set, so an undegraded PSP draws nothing.
  const hit = (rate: number) => rate > 0 && (rate >= 1 || ctx.random() < rate);
  const notProcessed = behaviour.outage || (ex.authorization === true && hit(behaviour.failureRate));

  if (notProcessed) {
    wire = ex.outage;
  } else {
    const idem = ex.idempotency;
    const stored = idem ? ex.psp.replay(idem.key, idem.fingerprint) : undefined;
    if (stored === "conflict") {
      wire = idem!.conflict;
    } else if (stored) {
      wire = stored;
      replayed = true;
    } else {
      const done = ex.process();
      wire = done.reply;
      extraDelayMs = done.delayMs ?? 0;
      if (idem) ex.psp.remember(idem.key, idem.fingerprint, wire);
    }
  }

  if (!notProcessed && hit(behaviour.timeoutRate)) extraDelayMs = Math.max(extraDelayMs, ctx.slowCardDelayMs);
  const delayMs = behaviour.latencyMs + extraDelayMs;
  // On close the delay ends early and the answer goes out at once; force-closed sockets drop it.
  if (delayMs > 0) await sleep(delayMs, undefined, { signal: ctx.closing }).catch(() => undefined);

  if (!notProcessed && behaviour.fault === "reset") {
    reply.hijack();
    reply.raw.destroy();
    return reply;
  }
  if (!notProcessed && behaviour.fault === "http_500") {
    return reply.code(500).send({ message: "internal server error" });
  }
  if (!notProcessed && behaviour.fault === "garbled") {
    return reply.code(200).type("text/html").send("<html><body>502 Bad Gateway</body></html>");
  }
  if (replayed) void reply.header("idempotent-replayed", "true");
  return reply.code(wire.status).send(wire.body);
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reply: WireReply };

/** Parses a request part; on failure the PSP's own error names the offending fields. */
export function parseWith<T>(
  schema: ZodType<T>,
  value: unknown,
  onError: (fields: string) => WireReply,
): Parsed<T> {
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  // Field paths only: a message quoting the input could quote a card number.
  return { ok: false, reply: onError(r.error.issues.map((i) => i.path.join(".") || "body").join(", ")) };
}
