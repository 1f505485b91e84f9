// The connector for "acme", a Stripe-like API: amounts as decimal strings in major units, lowercase
// currencies, the idempotency key in an Idempotency-Key header, card errors as 402, and attempts found
// again by searching charges on their idempotency key. Maps that wire format onto contract.ts.

import { z } from "zod";
import { toDecimalString } from "../payment/core/money.ts";
import type { PspCapabilities } from "../policy/core/schemas.ts";
import type {
  AuthorizeRequest,
  AuthorizeResult,
  DeclaredConnector,
  OperationResult,
  StatusResult,
} from "./contract.ts";
import { ACME_DECLINES, DeclineCode } from "./decline-codes.ts";
import { parseAcmeNotification } from "./notifications-acme.ts";
import {
  couldNotAsk,
  declined,
  exchangeJson,
  invalidAmount,
  parseReply,
  redact,
  unexpectedReply,
  unknownOutcome,
  unparseable,
  type JsonReply,
} from "./http.ts";

const AcmeCharge = z.object({
  id: z.string().min(1),
  status: z.enum(["succeeded", "requires_capture", "requires_action", "failed", "canceled"]),
  captured: z.boolean(),
  next_action: z.object({ redirect_url: z.string().min(1) }).optional(),
  failure_code: z.string().nullish(),
  decline_code: z.string().nullish(),
});
type AcmeCharge = z.infer<typeof AcmeCharge>;

const AcmeError = z.object({
  error: z.object({
    type: z.string(),
    code: z.string().optional(),
    decline_code: z.string().optional(),
    message: z.string().optional(),
    charge: z.string().optional(),
  }),
});
type AcmeError = z.infer<typeof AcmeError>["error"];

const AcmeRefund = z.object({ id: z.string().min(1), status: z.enum(["succeeded", "pending", "failed"]) });
const AcmeSearch = z.object({ data: z.array(AcmeCharge) });

export const ACME_CAPABILITIES: PspCapabilities = {
  currencies: ["EUR", "USD", "GBP", "SEK", "DKK", "NOK", "PLN", "CHF"],
  brands: ["visa", "mastercard", "amex"],
  threeDs: true,
  partialCapture: true,
  refunds: true,
};

/**
 * acme's finer `decline_code` wins over its `code`; a code it gives that the table does not name is
 * an unrecognized (hard) decline. No code at all is acme's plain card_declined.
 */
export function acmeDecline(
  code: string | null | undefined,
  declineCode: string | null | undefined,
  charge?: string,
) {
  const raw = declineCode ?? code ?? "card_declined";
  return declined(ACME_DECLINES[raw] ?? DeclineCode.unrecognizedDecline, raw, charge);
}

type Settled = Exclude<AuthorizeResult, { outcome: "technical_error" | "unknown" }>;

function chargeResult(c: AcmeCharge): Settled | undefined {
  switch (c.status) {
    case "succeeded":
    case "requires_capture":
    // A canceled charge was authorized first; what happened to it since is not the attempt's outcome.
    case "canceled":
      return { outcome: "authorized", pspReference: c.id, captured: c.captured };
    case "requires_action":
      return c.next_action
        ? { outcome: "requires_action", pspReference: c.id, actionUrl: c.next_action.redirect_url }
        : undefined;
    case "failed":
      return acmeDecline(c.failure_code, c.decline_code, c.id);
  }
}

const errorOf = (reply: JsonReply): AcmeError | undefined => parseReply(AcmeError, reply.body)?.error;
const isOutage = (reply: JsonReply, error?: AcmeError) =>
  reply.status === 503 && error?.code === "service_unavailable";
// The key was first used with other parameters: that first request may have done anything.
const keyConflict = (error?: AcmeError) =>
  error?.code === "idempotency_error"
    ? unknownOutcome("idempotency_conflict", "acme: idempotency key already used for another request")
    : undefined;

function operationResult(reply: JsonReply, ok: z.ZodType<{ id: string; status: string }>): OperationResult {
  if (reply.status === 200 || reply.status === 201) {
    const done = parseReply(ok, reply.body);
    if (!done) return unparseable(reply);
    if (done.status === "failed")
      return { outcome: "failed", code: "refund_failed", message: "acme: refund failed" };
    // A refund acme completes later: its charge.refunded / refund.failed event closes it.
    if (done.status === "pending") return { outcome: "accepted", pspReference: done.id };
    return { outcome: "succeeded", pspReference: done.id };
  }
  const error = errorOf(reply);
  const conflict = keyConflict(error);
  if (conflict) return conflict;
  if (error && error.type !== "api_error" && [400, 402, 404].includes(reply.status)) {
    const code = error.code ?? error.type;
    return { outcome: "failed", code, message: redact(`acme: ${error.message ?? code}`) };
  }
  return unexpectedReply(reply, isOutage(reply, error));
}

export function createAcmeConnector(opts: {
  apiUrl: string;
  timeoutMs: number;
  /** The notification signing secret (Acme-Signature); the timestamp tolerance in seconds. */
  /** Absent: acme's notification door is closed (refused as not_configured). */
  webhookSecret: string | undefined;
  webhookToleranceSec?: number;
}): DeclaredConnector {
  const call = (
    method: "GET" | "POST",
    path: string,
    extra: { idempotencyKey?: string; body?: unknown; traceparent?: string | undefined },
  ) =>
    exchangeJson({
      method,
      url: `${opts.apiUrl}${path}`,
      timeoutMs: opts.timeoutMs,
      headers: extra.idempotencyKey ? { "idempotency-key": extra.idempotencyKey } : {},
      body: extra.body,
      traceparent: extra.traceparent,
    });
  const chargePath = (pspReference: string, action: string) =>
    `/charges/${encodeURIComponent(pspReference)}/${action}`;

  return {
    name: "acme",
    capabilities: ACME_CAPABILITIES,

    async authorize(req: AuthorizeRequest): Promise<AuthorizeResult> {
      const invalid = invalidAmount(req.amount, req.currency);
      if (invalid) return invalid;
      const { card } = req;
      const ex = await call("POST", "/charges", {
        idempotencyKey: req.idempotencyKey,
        traceparent: req.traceparent,
        body: {
          amount: toDecimalString(req.amount, req.currency),
          currency: req.currency.toLowerCase(),
          capture: req.capture,
          source: { number: card.number, exp_month: card.expMonth, exp_year: card.expYear, cvc: card.cvc },
          metadata: { reference: req.reference },
          ...(req.returnUrl !== undefined && { return_url: req.returnUrl }),
          ...(req.threeDs === true && {
            payment_method_options: { card: { request_three_d_secure: "any" } },
          }),
        },
      });
      if (!ex.ok) return ex.failure;
      const { reply } = ex;
      if (reply.status === 200 || reply.status === 201) {
        const charge = parseReply(AcmeCharge, reply.body);
        return (charge && chargeResult(charge)) ?? unparseable(reply);
      }
      const error = errorOf(reply);
      if (reply.status === 402 && error?.type === "card_error") {
        return acmeDecline(error.code, error.decline_code, error.charge);
      }
      return keyConflict(error) ?? unexpectedReply(reply, isOutage(reply, error));
    },

    async capture(req) {
      const invalid = invalidAmount(req.amount, req.currency);
      if (invalid) return invalid;
      const ex = await call("POST", chargePath(req.pspReference, "capture"), {
        idempotencyKey: req.idempotencyKey,
        traceparent: req.traceparent,
        body: { amount: toDecimalString(req.amount, req.currency) },
      });
      return ex.ok ? operationResult(ex.reply, AcmeCharge) : ex.failure;
    },

    async void(req) {
      const ex = await call("POST", chargePath(req.pspReference, "cancel"), {
        idempotencyKey: req.idempotencyKey,
        traceparent: req.traceparent,
        body: {},
      });
      return ex.ok ? operationResult(ex.reply, AcmeCharge) : ex.failure;
    },

    async refund(req) {
      const invalid = invalidAmount(req.amount, req.currency);
      if (invalid) return invalid;
      const ex = await call("POST", "/refunds", {
        idempotencyKey: req.idempotencyKey,
        traceparent: req.traceparent,
        body: { charge: req.pspReference, amount: toDecimalString(req.amount, req.currency) },
      });
      return ex.ok ? operationResult(ex.reply, AcmeRefund) : ex.failure;
    },

    async status(req): Promise<StatusResult> {
      const query = new URLSearchParams({ idempotency_key: req.idempotencyKey });
      const ex = await call("GET", `/charges/search?${query.toString()}`, { traceparent: req.traceparent });
      if (!ex.ok) return couldNotAsk(ex.failure);
      const { reply } = ex;
      if (reply.status !== 200) return couldNotAsk(unexpectedReply(reply, isOutage(reply, errorOf(reply))));
      const search = parseReply(AcmeSearch, reply.body);
      if (!search) return couldNotAsk(unparseable(reply));
      const charge = search.data[0];
      if (!charge) return { found: false };
      const result = chargeResult(charge);
      return result ? { found: true, result } : couldNotAsk(unparseable(reply));
    },

    parseNotification: (req) =>
      parseAcmeNotification(req, {
        secret: opts.webhookSecret,
        ...(opts.webhookToleranceSec !== undefined && { toleranceSec: opts.webhookToleranceSec }),
      }),
  };
}
