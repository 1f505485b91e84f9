// The connector for "bolt", an Adyen-like API: integer minor-unit amounts with uppercase currencies,
// the idempotency key as `requestId` in the body, 200 with a resultCode even for refusals, and
// modifications (capture, cancel, refund) acknowledged as "received". Maps that onto contract.ts.

import { z } from "zod";
import type { PspCapabilities } from "../policy/core/schemas.ts";
import type {
  AuthorizeRequest,
  AuthorizeResult,
  DeclaredConnector,
  OperationResult,
  StatusResult,
} from "./contract.ts";
import { BOLT_REFUSALS, DeclineCode } from "./decline-codes.ts";
import { parseBoltNotification } from "./notifications-bolt.ts";
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

const BoltPayment = z.object({
  pspReference: z.string().min(1),
  resultCode: z.string(),
  refusalReason: z.string().optional(),
  refusalReasonCode: z.string().optional(),
  action: z.object({ url: z.string().min(1) }).optional(),
});
type BoltPayment = z.infer<typeof BoltPayment>;

/** The status lookup's view: the payment plus how much of it is captured now. */
const BoltPaymentDetails = BoltPayment.extend({
  capturedAmount: z.object({ value: z.number().int().nonnegative() }),
});

const BoltModification = z.object({ status: z.literal("received"), pspReference: z.string().min(1) });
const BoltError = z.object({
  errorCode: z.string(),
  message: z.string().optional(),
  errorType: z.string().optional(),
});
type BoltError = z.infer<typeof BoltError>;

export const BOLT_CAPABILITIES: PspCapabilities = {
  // Adyen takes zero- and three-decimal currencies too: JPY and KWD keep those paths exercised.
  currencies: ["EUR", "USD", "GBP", "DKK", "JPY", "KWD"],
  brands: ["visa", "mastercard"],
  threeDs: true,
  partialCapture: true,
  refunds: true,
};

/**
 * A refusal by its `refusalReasonCode`. Without one, "Refused" is bolt's plain refusal and "Error" a
 * failure while processing; a code the table does not name is an unrecognized (hard) decline.
 */
export function boltDecline(
  resultCode: "Refused" | "Error",
  reasonCode: string | undefined,
  pspReference?: string,
) {
  if (reasonCode === undefined) {
    return resultCode === "Refused"
      ? declined(DeclineCode.cardDeclined, "Refused", pspReference)
      : declined(DeclineCode.processingError, "Error", pspReference);
  }
  return declined(BOLT_REFUSALS[reasonCode] ?? DeclineCode.unrecognizedDecline, reasonCode, pspReference);
}

type Settled = Exclude<AuthorizeResult, { outcome: "technical_error" | "unknown" }>;

function paymentResult(p: BoltPayment, captured: boolean): Settled | undefined {
  switch (p.resultCode) {
    case "Authorised":
      return { outcome: "authorized", pspReference: p.pspReference, captured };
    case "RedirectShopper":
      return p.action
        ? { outcome: "requires_action", pspReference: p.pspReference, actionUrl: p.action.url }
        : undefined;
    // bolt's "Error" is a failure while processing this payment: final for it, worth another attempt.
    case "Refused":
    case "Error":
      return boltDecline(p.resultCode, p.refusalReasonCode, p.pspReference);
    default:
      // Pending, Received or anything new: not a settled outcome we could act on.
      return undefined;
  }
}

const errorOf = (reply: JsonReply): BoltError | undefined => parseReply(BoltError, reply.body);
const isOutage = (reply: JsonReply, error?: BoltError) =>
  reply.status === 503 && error?.errorType === "not_processed";
// The requestId was first used with another body: that first request may have done anything.
const keyConflict = (error?: BoltError) =>
  error?.errorCode === "idempotency_conflict"
    ? unknownOutcome("idempotency_conflict", "bolt: requestId already used for another request")
    : undefined;

function operationResult(reply: JsonReply): OperationResult {
  // 202: received, completed later (an asynchronous refund); its REFUND notification closes it.
  if (reply.status === 202) {
    const done = parseReply(BoltModification, reply.body);
    return done ? { outcome: "accepted", pspReference: done.pspReference } : unparseable(reply);
  }
  if (reply.status === 200 || reply.status === 201) {
    const done = parseReply(BoltModification, reply.body);
    return done ? { outcome: "succeeded", pspReference: done.pspReference } : unparseable(reply);
  }
  const error = errorOf(reply);
  const conflict = keyConflict(error);
  if (conflict) return conflict;
  if (reply.status === 422 && error) {
    return {
      outcome: "failed",
      code: error.errorCode,
      message: redact(`bolt: ${error.message ?? error.errorCode}`),
    };
  }
  return unexpectedReply(reply, isOutage(reply, error));
}

export function createBoltConnector(opts: {
  apiUrl: string;
  timeoutMs: number;
  /** The notifications' HMAC key, hex (Adyen's form). */
  /** Absent: bolt's notification door is closed (refused as not_configured). */
  hmacKeyHex: string | undefined;
}): DeclaredConnector {
  const call = (method: "GET" | "POST", path: string, body: unknown, traceparent: string | undefined) =>
    exchangeJson({ method, url: `${opts.apiUrl}${path}`, timeoutMs: opts.timeoutMs, body, traceparent });
  const modify = async (
    pspReference: string,
    kind: "captures" | "cancels" | "refunds",
    body: Record<string, unknown>,
    traceparent: string | undefined,
  ): Promise<OperationResult> => {
    const ex = await call("POST", `/payments/${encodeURIComponent(pspReference)}/${kind}`, body, traceparent);
    return ex.ok ? operationResult(ex.reply) : ex.failure;
  };

  return {
    name: "bolt",
    capabilities: BOLT_CAPABILITIES,

    async authorize(req: AuthorizeRequest): Promise<AuthorizeResult> {
      const invalid = invalidAmount(req.amount, req.currency);
      if (invalid) return invalid;
      const { card } = req;
      const body = {
        requestId: req.idempotencyKey,
        merchantReference: req.reference,
        amount: { value: req.amount, currency: req.currency },
        paymentMethod: {
          type: "scheme",
          number: card.number,
          expiryMonth: String(card.expMonth).padStart(2, "0"),
          expiryYear: String(card.expYear),
          cvc: card.cvc,
        },
        captureDelay: req.capture ? "immediate" : "manual",
        ...(req.returnUrl !== undefined && { returnUrl: req.returnUrl }),
        ...(req.threeDs === true && { authenticationData: { attemptAuthentication: "always" } }),
      };
      const ex = await call("POST", "/payments", body, req.traceparent);
      if (!ex.ok) return ex.failure;
      const { reply } = ex;
      if (reply.status === 200) {
        const payment = parseReply(BoltPayment, reply.body);
        // An immediate capture is part of an Authorised answer: bolt has no separate capture result.
        return (payment && paymentResult(payment, req.capture)) ?? unparseable(reply);
      }
      const error = errorOf(reply);
      return keyConflict(error) ?? unexpectedReply(reply, isOutage(reply, error));
    },

    async capture(req) {
      const invalid = invalidAmount(req.amount, req.currency);
      if (invalid) return invalid;
      const amount = { value: req.amount, currency: req.currency };
      return modify(req.pspReference, "captures", { requestId: req.idempotencyKey, amount }, req.traceparent);
    },

    async void(req) {
      return modify(req.pspReference, "cancels", { requestId: req.idempotencyKey }, req.traceparent);
    },

    async refund(req) {
      const invalid = invalidAmount(req.amount, req.currency);
      if (invalid) return invalid;
      const amount = { value: req.amount, currency: req.currency };
      return modify(req.pspReference, "refunds", { requestId: req.idempotencyKey, amount }, req.traceparent);
    },

    async status(req): Promise<StatusResult> {
      const query = new URLSearchParams({ requestId: req.idempotencyKey });
      const ex = await call("GET", `/payments?${query.toString()}`, undefined, req.traceparent);
      if (!ex.ok) return couldNotAsk(ex.failure);
      const { reply } = ex;
      const error = errorOf(reply);
      if (reply.status === 404 && error?.errorCode === "payment_not_found") return { found: false };
      if (reply.status !== 200) return couldNotAsk(unexpectedReply(reply, isOutage(reply, error)));
      const payment = parseReply(BoltPaymentDetails, reply.body);
      const result = payment && paymentResult(payment, payment.capturedAmount.value > 0);
      return result ? { found: true, result } : couldNotAsk(unparseable(reply));
    },

    parseNotification: (req) => parseBoltNotification(req, { hmacKeyHex: opts.hmacKeyHex }),
  };
}
