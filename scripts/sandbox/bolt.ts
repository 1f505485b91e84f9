// The "bolt" sandbox PSP's wire format, modelled on Adyen: integer minor-unit amounts with uppercase
// currencies, the idempotency key as `requestId` in the body, 200 with a resultCode even for refusals,
// modifications acknowledged with 201 "received", payments looked up by requestId.
// Translation only: the money rules live in simulator.ts.

import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { isCurrency, MAX_AMOUNT } from "../../actors/payment/core/money.ts";
import { answer, parseWith, type SandboxContext } from "./exchange.ts";
import {
  ChargeStatus,
  declineVerdict,
  fingerprint,
  isRefusal,
  randomId,
  SLOW_CARD,
  type DeclineVerdict,
  type Charge,
  type Refusal,
  type SimulatedPsp,
  type WireReply,
} from "./simulator.ts";

const Amount = z.object({
  value: z.number().int().min(1).max(MAX_AMOUNT),
  currency: z.string().refine(isCurrency, "unsupported currency"),
});
const PaymentRequest = z.object({
  requestId: z.string().min(1),
  merchantReference: z.string().min(1),
  amount: Amount,
  paymentMethod: z.object({
    type: z.literal("scheme"),
    number: z.string().regex(/^\d{12,19}$/),
    expiryMonth: z.string().regex(/^(0[1-9]|1[0-2])$/),
    expiryYear: z.string().regex(/^20\d\d$/),
    cvc: z.string().regex(/^\d{3,4}$/),
  }),
  captureDelay: z.enum(["immediate", "manual"]),
  returnUrl: z.url().max(2048).optional(),
  // Adyen's way to ask for 3-D Secure whatever the risk rules would say.
  authenticationData: z.object({ attemptAuthentication: z.enum(["always", "never"]) }).optional(),
});
const Modification = z.object({ requestId: z.string().min(1), amount: Amount.optional() });
const PaymentParams = z.object({ pspReference: z.string() });
const StatusQuery = z.object({ requestId: z.string().min(1) });

function boltError(status: number, errorCode: string, message: string, errorType = "validation"): WireReply {
  return { status, body: { status, errorCode, message, errorType } };
}

const OUTAGE = boltError(
  503,
  "service_unavailable",
  "Bolt is temporarily unavailable. The request was not processed.",
  "not_processed",
);
const CONFLICT = boltError(422, "idempotency_conflict", "requestId was already used for a different request");

/** How bolt words each issuer verdict that is not an approval. */
const REFUSALS: Readonly<Record<DeclineVerdict, [string, string, string]>> = {
  do_not_honor: ["Refused", "Refused", "2"],
  insufficient_funds: ["Refused", "Not enough balance", "51"],
  expired: ["Refused", "Expired Card", "54"],
  invalid_number: ["Refused", "Invalid Card Number", "14"],
  processing_error: ["Error", "Acquirer Error", "96"],
  // Visa's PSD2 soft decline: the issuer wants strong customer authentication.
  authentication_required: ["Refused", "Authentication required", "1A"],
};

const PAYMENT_STATUS: Readonly<Record<ChargeStatus, string>> = {
  authorized: "authorised",
  captured: "captured",
  declined: "refused",
  requires_action: "pending_action",
  voided: "cancelled",
  partially_refunded: "partially_refunded",
  refunded: "refunded",
};

/** How bolt words a challenge the shopper failed (Adyen's "3D Not Authenticated"). */
export const CHALLENGE_FAILED: [string, string, string] = ["Refused", "3D Not Authenticated", "11"];

function paymentBody(c: Charge): Record<string, unknown> {
  const declined = declineVerdict(c.verdict);
  const refusal = c.challenge === "failed" ? CHALLENGE_FAILED : declined ? REFUSALS[declined] : undefined;
  const resultCode =
    c.status === ChargeStatus.requiresAction ? "RedirectShopper" : (refusal?.[0] ?? "Authorised");
  return {
    pspReference: c.id,
    resultCode,
    merchantReference: c.reference,
    amount: { value: c.amount, currency: c.currency },
    ...(refusal ? { refusalReason: refusal[1], refusalReasonCode: refusal[2] } : {}),
    ...(c.actionUrl ? { action: { type: "redirect", method: "GET", url: c.actionUrl } } : {}),
  };
}

/** The fuller view the status lookup gives: the payment plus where its money stands now. */
function paymentDetails(c: Charge): Record<string, unknown> {
  return {
    ...paymentBody(c),
    requestId: c.idempotencyKey,
    status: PAYMENT_STATUS[c.status],
    capturedAmount: { value: c.capturedAmount, currency: c.currency },
    refundedAmount: { value: c.refundedAmount, currency: c.currency },
    creationDate: c.createdAt,
  };
}

function refusalReply(r: Refusal): WireReply {
  const codes = {
    not_found: "payment_not_found",
    invalid_state: "invalid_payment_state",
    amount_too_large: "amount_too_high",
    currency_mismatch: "currency_mismatch",
  } as const;
  return boltError(422, codes[r.refused], r.message);
}

const parse = <T>(schema: z.ZodType<T>, value: unknown) =>
  parseWith(schema, value, (fields) => boltError(422, "invalid_field", `invalid or missing: ${fields}`));

const keyed = (req: FastifyRequest, requestId: string) => ({
  key: requestId,
  fingerprint: fingerprint([req.method, req.url, req.body]),
  conflict: CONFLICT,
});

type ModificationKind = "captures" | "cancels" | "refunds";

function modify(
  psp: SimulatedPsp,
  ctx: SandboxContext,
  kind: ModificationKind,
  ref: string,
  amount?: z.infer<typeof Amount>,
) {
  const at = ctx.now();
  const charge = psp.charge(ref);
  if (!charge) return refusalReply({ refused: "not_found", message: `no payment ${ref}` });
  const currency = amount?.currency ?? charge.currency;
  // The modification's own reference: what the platform records and the settlement lists it under.
  const op = { reference: randomId("", 16).toUpperCase(), at };
  // An asynchronous refund is answered 202: received, its REFUND notification says how it ended.
  const later = kind === "refunds" && psp.behaviour.asyncRefunds === true;
  const done =
    kind === "cancels"
      ? psp.void(ref, op)
      : kind === "captures"
        ? psp.capture(ref, amount?.value ?? charge.amount, currency, op)
        : psp.refund(
            ref,
            amount?.value ?? charge.capturedAmount - charge.refundedAmount,
            currency,
            op,
            later,
          );
  if (isRefusal(done)) return refusalReply(done);
  if (later) ctx.refundLater(psp, ref, op.reference);
  const body = { status: "received", pspReference: op.reference, paymentPspReference: ref };
  return { status: later ? 202 : 201, body: amount ? { ...body, amount } : body };
}

export function boltRoutes(psp: SimulatedPsp, ctx: SandboxContext) {
  const send = (reply: FastifyReply, wire: WireReply) => reply.code(wire.status).send(wire.body);

  const routes: FastifyPluginCallback = (app, _opts, done) => {
    // Fastify's own errors (malformed JSON, wrong content type) in bolt's words.
    app.setErrorHandler((err, _req, reply) => {
      const { message = "invalid request", statusCode = 400 } = err as {
        message?: string;
        statusCode?: number;
      };
      return send(reply, boltError(statusCode, "invalid_request", message));
    });
    app.setNotFoundHandler((req, reply) =>
      send(reply, boltError(404, "not_found", `no route ${req.method} ${req.url}`)),
    );

    app.post("/payments", async (req, reply) => {
      const body = parse(PaymentRequest, req.body);
      if (!body.ok) return send(reply, body.reply);
      const p = body.value;
      const base = `${req.protocol}://${req.host}`;
      return answer(ctx, reply, {
        psp,
        outage: OUTAGE,
        authorization: true,
        idempotency: keyed(req, p.requestId),
        process: () => {
          const { number, expiryMonth, expiryYear } = p.paymentMethod;
          const charge = psp.authorize(
            {
              idempotencyKey: p.requestId,
              reference: p.merchantReference,
              amount: p.amount.value,
              currency: p.amount.currency,
              capture: p.captureDelay === "immediate",
              card: { number, expMonth: Number(expiryMonth), expYear: Number(expiryYear) },
              ...(typeof req.headers.traceparent === "string"
                ? { traceparent: req.headers.traceparent }
                : {}),
              ...(p.returnUrl !== undefined && { returnUrl: p.returnUrl }),
              ...(p.authenticationData?.attemptAuthentication === "always" && { threeDs: true }),
              actionUrl: (id) => `${base}/bolt/redirect/${id}`,
            },
            ctx.now(),
          );
          const delayMs = number === SLOW_CARD ? ctx.slowCardDelayMs : 0;
          return { reply: { status: 200, body: paymentBody(charge) }, delayMs };
        },
      });
    });

    app.get("/payments", async (req, reply) => {
      const query = parse(StatusQuery, req.query);
      if (!query.ok) return send(reply, query.reply);
      const charge = psp.chargeByKey(query.value.requestId);
      const found: WireReply = charge
        ? { status: 200, body: paymentDetails(charge) }
        : boltError(404, "payment_not_found", "no payment for this requestId");
      return answer(ctx, reply, { psp, outage: OUTAGE, process: () => ({ reply: found }) });
    });

    for (const kind of ["captures", "cancels", "refunds"] as const) {
      app.post(`/payments/:pspReference/${kind}`, async (req, reply) => {
        const params = parse(PaymentParams, req.params);
        if (!params.ok) return send(reply, params.reply);
        const body = parse(Modification, req.body);
        if (!body.ok) return send(reply, body.reply);
        const { requestId, amount } = body.value;
        return answer(ctx, reply, {
          psp,
          outage: OUTAGE,
          idempotency: keyed(req, requestId),
          process: () => ({ reply: modify(psp, ctx, kind, params.value.pspReference, amount) }),
        });
      });
    }
    done();
  };
  return routes;
}
