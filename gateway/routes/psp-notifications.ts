// The platform's door for PSP notifications: POST /webhooks/psp/:psp, outside /v1 and without a
// merchant key — the PSP's signature is the authentication. The body is kept as the exact bytes that
// arrived (a parser of this scope only) because the signature is over them; the PSP's connector
// verifies and normalizes (parseNotification). Each verified notification becomes a RecordNotification
// command on its payment, published with `Nats-Msg-Id = ntf:<psp>:<notification id>` so that JetStream
// drops a repeat within its window; the door also remembers every id it took for 30 days
// (streams/processed-notifications.ts), because bolt's signature has no timestamp and a captured body
// verifies for ever. A notification no payment can take (or a dispute it cannot owe) is kept for
// reconciliation (streams/unmatched-notifications.ts), never dropped. The PSP's acknowledgement is
// answered only once every command (or kept record) is stored: a failure answers 503 and the PSP's
// own retries bring the notification again.
// Refused before anything else: a PSP with no configured secret (503 notifications_not_configured,
// its door closed), and a body holding what no store can keep (a NUL, an unpaired surrogate, nesting
// past 32 levels: 400 notification_malformed naming the field), whether or not it is signed.
// An unverifiable request is refused (401 or 400 with a code), counted and logged without its body;
// if it names a payment we know, that payment asks its PSP for the truth (ResumePayment) instead.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import { z } from "zod";
import { findUnsafeText, ID_PATTERN, UNSAFE_TEXT } from "../../actors/payment/core/contract.ts";
import type { PspNotification } from "../../actors/payment/core/notification.ts";
import { MAX_NOTIFICATION_BYTES } from "../../actors/psp/notification-signature.ts";
import type { CommandEnvelope, CommandReply } from "../../actors/payment/core/wire.ts";
import { logFor } from "../context.ts";
import type { GatewayDeps, PspNotificationDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { PSP_NAME } from "../../actors/policy/core/schemas.ts";

/** The raw body, out of reach of hooks that walk parsed bodies (its text is not enumerable). */
class RawBody {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  get text(): string {
    return this.#text;
  }
}

const REFUSALS = {
  bad_signature: { code: "notification_signature_invalid", outcome: "bad_signature" },
  stale_timestamp: { code: "notification_timestamp_stale", outcome: "stale" },
  malformed: { code: "notification_malformed", outcome: "malformed" },
  not_configured: { code: "notifications_not_configured", outcome: "not_configured" },
} as const;

type Outcome = "accepted" | "duplicate" | "unmatched";

/** The payment's rejections that keep the notification for reconciliation (it stays acknowledged). */
const KEPT_REJECTIONS: ReadonlySet<string> = new Set(["payment_not_found", "dispute_out_of_bounds"]);

export const pspNotificationRoutes: FastifyPluginCallback<GatewayDeps> = (app, deps, done) => {
  const door = deps.pspNotifications;
  if (!door) return done();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "application/json",
    { parseAs: "string", bodyLimit: MAX_NOTIFICATION_BYTES },
    (_req, body, cb) => cb(null, new RawBody(typeof body === "string" ? body : body.toString("utf8"))),
  );

  app.post(
    "/webhooks/psp/:psp",
    {
      bodyLimit: MAX_NOTIFICATION_BYTES,
      schema: {
        summary: "Take a PSP's notification (its signature is the authentication)",
        description:
          "For the PSPs, not merchants: the body is the PSP's own format, verified over its exact " +
          "bytes by the PSP's connector (acme: `Acme-Signature: t=…,v1=…`; bolt: an HMAC in each " +
          "item). The answer is the acknowledgement the PSP expects (bolt: `[accepted]`), given once " +
          "every notification is stored. Refusals: 404 psp_not_found, 401 " +
          "notification_signature_invalid / notification_timestamp_stale, 400 notification_malformed, " +
          "503 service_unavailable (not stored: the PSP retries), 503 notifications_not_configured (no " +
          "secret for this PSP: its door is closed). See docs/notifications.md.",
        tags: ["psp notifications"],
        params: z.object({ psp: z.string().describe("acme or bolt") }),
      },
    },
    async (req, reply) => {
      const { psp } = req.params as { psp: string };
      const connector = PSP_NAME.test(psp) ? door.connectors.get(psp) : undefined;
      if (!connector?.parseNotification)
        throw new ApiError("psp_not_found", `no PSP named ${psp.slice(0, 32)}`);
      const count = (outcome: string) => deps.metrics.pspNotifications.inc({ psp, outcome });
      if (door.closed.includes(psp)) {
        count("not_configured");
        logFor(req).warn(
          { psp },
          "PSP notification refused: this PSP's notification secret is not configured",
        );
        throw new ApiError(
          "notifications_not_configured",
          `notifications from ${psp} cannot be verified: its secret is not configured`,
          { psp },
        );
      }
      const expected = door.basicAuth?.[psp];
      if (expected !== undefined && !sameCredentials(req.headers.authorization, expected)) {
        count("unauthorized");
        logFor(req).warn({ psp }, "PSP notification refused: missing or wrong basic auth");
        throw new ApiError("unauthorized", `notifications from ${psp} need this PSP's basic auth`);
      }
      const body = req.body instanceof RawBody ? req.body.text : "";
      // The same rule as every other edge (actors/payment/core/contract.ts), under the door's own code.
      const unsafe = findUnsafeText(jsonOrUndefined(body));
      if (unsafe) {
        const field = unsafe.path || "(body)";
        count("malformed");
        logFor(req).warn(
          { psp, field, problem: unsafe.problem, bytes: body.length },
          "PSP notification refused",
        );
        throw new ApiError("notification_malformed", `${field}: ${UNSAFE_TEXT[unsafe.problem]}`, {
          field,
          reason: unsafe.problem,
        });
      }
      const parsed = connector.parseNotification({ headers: headersOf(req), body, now: new Date() });
      if (!parsed.ok) {
        const refusal = REFUSALS[parsed.reason];
        count(refusal.outcome);
        // The reason and the payment it claims, never the body or a header (they carry signatures).
        logFor(req).warn(
          { psp, reason: parsed.reason, paymentId: parsed.paymentReference ?? null, bytes: body.length },
          "PSP notification refused",
        );
        if (parsed.reason === "not_configured")
          throw new ApiError(refusal.code, `notifications from ${psp} cannot be verified`, { psp });
        if (parsed.paymentReference !== undefined) await requery(req, deps, door, parsed.paymentReference);
        throw new ApiError(refusal.code, `the notification could not be verified: ${parsed.reason}`);
      }
      for (const n of parsed.notifications) {
        let outcome: Outcome;
        try {
          outcome = await take(req, deps, door, n);
        } catch (cause) {
          // Not stored: the PSP is not acknowledged, and its retry brings the notification again.
          logFor(req).error({ err: cause, psp }, "PSP notification could not be stored");
          throw new ApiError(
            "service_unavailable",
            "the notification could not be stored; retry",
            {},
            { cause },
          );
        }
        count(outcome);
      }
      return reply.code(parsed.ack.status).type(parsed.ack.contentType).send(parsed.ack.body);
    },
  );
  done();
};

/** Header names lowercased, repeated headers joined as HTTP allows. */
function headersOf(req: FastifyRequest): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(",") : v;
  return out;
}

/** Whether the Authorization header is basic auth with `expected` (`user:password`), in constant time. */
function sameCredentials(header: string | undefined, expected: string): boolean {
  const given = /^Basic ([A-Za-z0-9+/]+={0,2})$/.exec(header ?? "")?.[1];
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  // Digests of equal length, so the comparison says nothing about the lengths either.
  const ok = timingSafeEqual(
    digest(given === undefined ? "" : Buffer.from(given, "base64").toString("utf8")),
    digest(expected),
  );
  return given !== undefined && ok;
}

/** The body as JSON, or undefined (the connector then refuses it as malformed). */
function jsonOrUndefined(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/** One verified notification, unless taken before: sent to its payment or kept, then remembered. */
async function take(
  req: FastifyRequest,
  deps: GatewayDeps,
  door: PspNotificationDeps,
  n: PspNotification,
): Promise<Outcome> {
  if (await door.processed.seen(n.psp, n.id)) return "duplicate";
  const outcome = await deliver(req, deps, door, n);
  await door.processed.remember(n.psp, n.id, new Date());
  return outcome;
}

async function deliver(
  req: FastifyRequest,
  deps: GatewayDeps,
  door: PspNotificationDeps,
  n: PspNotification,
): Promise<Outcome> {
  const known = ID_PATTERN.test(n.paymentReference) ? await deps.payments.get(n.paymentReference) : undefined;
  if (!known) return keep(door, n, "no such payment");
  const envelope: CommandEnvelope = {
    v: 1,
    command: {
      type: "RecordNotification",
      paymentId: n.paymentReference,
      notification: n,
      at: new Date().toISOString(),
    },
  };
  const sent = await door.bus.sendDeduplicated(envelope.command, envelope, {
    waitMs: door.replyWaitMs,
    msgId: `ntf:${n.psp}:${n.id}`,
    ...(req.trace.traceparent !== undefined && { traceparent: req.trace.traceparent }),
  });
  if (sent.duplicate) return "duplicate";
  const answer = sent.reply as CommandReply | null;
  // The payment exists but cannot place it (never sent to that PSP, an unknown refund or dispute), or
  // it names a dispute the payment cannot owe (another currency, more than the merchant still holds):
  // an operator reconciles it with the PSP.
  if (answer?.kind === "rejected" && KEPT_REJECTIONS.has(answer.rejection.code)) {
    if (answer.rejection.code === "dispute_out_of_bounds")
      logFor(req).warn(
        { psp: n.psp, paymentId: n.paymentReference, notificationId: n.id, reason: answer.rejection.message },
        "PSP dispute out of bounds kept for reconciliation",
      );
    return keep(door, n, answer.rejection.message);
  }
  return "accepted";
}

async function keep(door: PspNotificationDeps, n: PspNotification, reason: string): Promise<Outcome> {
  await door.unmatched.keep({
    v: 1,
    psp: n.psp,
    id: n.id,
    paymentReference: n.paymentReference,
    kind: n.kind,
    reason,
    notification: n,
    receivedAt: new Date().toISOString(),
  });
  return "unmatched";
}

/**
 * The payment an unverifiable notification names asks its PSP instead. One request per payment in
 * JetStream's dedupe window (the message id), so a flood of forgeries costs one status query.
 */
async function requery(req: FastifyRequest, deps: GatewayDeps, door: PspNotificationDeps, paymentId: string) {
  if (!ID_PATTERN.test(paymentId)) return;
  try {
    const view = await deps.payments.get(paymentId);
    if (!view) return;
    const envelope: CommandEnvelope = {
      v: 1,
      command: {
        type: "ResumePayment",
        paymentId,
        merchantId: view.merchant_id,
        reason: "unverified notification",
        at: new Date().toISOString(),
      },
    };
    await door.bus.send(envelope.command, envelope, { waitMs: 0, msgId: `resume:ntf:${paymentId}` });
  } catch (err) {
    // The refusal stands either way; the janitor or the next notification will look again.
    logFor(req).warn(
      { err, paymentId },
      "could not ask for the status of a payment named by a refused notification",
    );
  }
}
