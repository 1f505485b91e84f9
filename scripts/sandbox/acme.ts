// The "acme" sandbox PSP's wire format, modelled on Stripe: decimal-string amounts in major units,
// lowercase currencies, an Idempotency-Key header, 402 for card errors, charges found by search.
// Translation only: the money rules live in simulator.ts.

import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { fromDecimalString, MAX_AMOUNT, toDecimalString } from "../../actors/payment/core/money.ts";
import { answer, parseWith, type Parsed, type SandboxContext } from "./exchange.ts";
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

const DecimalAmount = z.string().regex(/^\d+(\.\d+)?$/);
const CreateCharge = z.object({
  amount: DecimalAmount,
  currency: z.string().regex(/^[a-z]{3}$/),
  capture: z.boolean().default(true),
  source: z.object({
    number: z.string().regex(/^\d{12,19}$/),
    exp_month: z.number().int().min(1).max(12),
    exp_year: z.number().int().min(2000).max(2100),
    cvc: z.string().regex(/^\d{3,4}$/),
  }),
  metadata: z.object({ reference: z.string().min(1) }),
  return_url: z.url().max(2048).optional(),
  // Stripe's way to ask for 3-D Secure: "any" authenticates whenever the card supports it.
  payment_method_options: z
    .object({ card: z.object({ request_three_d_secure: z.enum(["any", "automatic"]) }) })
    .optional(),
});
const CaptureBody = z.object({ amount: DecimalAmount.optional() });
const RefundBody = z.object({ charge: z.string().min(1), amount: DecimalAmount.optional() });
const ChargeParams = z.object({ id: z.string() });
const SearchQuery = z.object({ idempotency_key: z.string().min(1) });

const OUTAGE: WireReply = {
  status: 503,
  body: {
    error: {
      type: "api_error",
      code: "service_unavailable",
      message: "Acme is temporarily unavailable. The request was not processed; it is safe to retry.",
    },
  },
};

function invalid(message: string, code = "parameter_invalid", status = 400): WireReply {
  return { status, body: { error: { type: "invalid_request_error", code, message } } };
}

const CONFLICT = invalid(
  "Keys for idempotent requests can only be used with the same parameters they were first used with.",
  "idempotency_error",
);

/** The decline wording acme gives each issuer verdict. */
const CARD_ERRORS: Readonly<Record<DeclineVerdict, [string, string?]>> = {
  do_not_honor: ["card_declined", "generic_decline"],
  insufficient_funds: ["card_declined", "insufficient_funds"],
  processing_error: ["processing_error"],
  expired: ["expired_card"],
  invalid_number: ["incorrect_number"],
  authentication_required: ["card_declined", "authentication_required"],
};

function acmeStatus(c: Charge): string {
  switch (c.status) {
    case ChargeStatus.authorized:
      return "requires_capture";
    case ChargeStatus.requiresAction:
      return "requires_action";
    case ChargeStatus.declined:
      return "failed";
    case ChargeStatus.voided:
      return "canceled";
    case ChargeStatus.captured:
    case ChargeStatus.partiallyRefunded:
    case ChargeStatus.refunded:
      return "succeeded";
  }
}

export function chargeBody(c: Charge): Record<string, unknown> {
  const dec = (minor: number) => toDecimalString(minor, c.currency);
  const declined = declineVerdict(c.verdict);
  const failure: readonly [string, string?] | undefined =
    c.challenge === "failed" ? ["authentication_required"] : declined ? CARD_ERRORS[declined] : undefined;
  return {
    id: c.id,
    object: "charge",
    status: acmeStatus(c),
    amount: dec(c.amount),
    amount_captured: dec(c.capturedAmount),
    amount_refunded: dec(c.refundedAmount),
    currency: c.currency.toLowerCase(),
    captured: c.capturedAmount > 0,
    refunded: c.status === ChargeStatus.refunded,
    created: Math.floor(Date.parse(c.createdAt) / 1000),
    metadata: { reference: c.reference },
    payment_method_details: { card: { last4: c.last4 } },
    ...(c.actionUrl ? { next_action: { redirect_url: c.actionUrl } } : {}),
    ...(failure ? { failure_code: failure[0], decline_code: failure[1] ?? null } : {}),
  };
}

function refusalReply(r: Refusal): WireReply {
  const codes = {
    not_found: ["resource_missing", 404],
    invalid_state: ["charge_not_in_valid_state", 400],
    amount_too_large: ["amount_too_large", 400],
    currency_mismatch: ["currency_mismatch", 400],
  } as const;
  const [code, status] = codes[r.refused];
  return invalid(r.message, code, status);
}

/** Major-unit decimal string → minor units, or an acme 400 naming the parameter. */
function minorUnits(value: string, currency: string): Parsed<number> {
  try {
    const amount = fromDecimalString(value, currency);
    if (amount >= 1 && amount <= MAX_AMOUNT) return { ok: true, value: amount };
    return { ok: false, reply: invalid("amount out of range") };
  } catch (err) {
    return { ok: false, reply: invalid(`amount: ${(err as Error).message}`) };
  }
}

function idempotency(req: FastifyRequest) {
  const key = req.headers["idempotency-key"];
  if (typeof key !== "string" || key === "") return undefined;
  return { key, fingerprint: fingerprint([req.method, req.url, req.body]), conflict: CONFLICT };
}

const parse = <T>(schema: z.ZodType<T>, value: unknown) =>
  parseWith(schema, value, (fields) => invalid(`invalid parameters: ${fields}`));

export function acmeRoutes(psp: SimulatedPsp, ctx: SandboxContext) {
  const send = (reply: FastifyReply, wire: WireReply) => reply.code(wire.status).send(wire.body);
  const traceparentOf = (req: FastifyRequest) =>
    typeof req.headers.traceparent === "string" ? { traceparent: req.headers.traceparent } : {};

  const routes: FastifyPluginCallback = (app, _opts, done) => {
    // Fastify's own errors (malformed JSON, wrong content type) in acme's words.
    app.setErrorHandler((err, _req, reply) => {
      const { message = "invalid request", statusCode = 400 } = err as {
        message?: string;
        statusCode?: number;
      };
      return send(reply, invalid(message, "invalid_request", statusCode));
    });
    app.setNotFoundHandler((req, reply) =>
      send(reply, invalid(`no route ${req.method} ${req.url}`, "not_found", 404)),
    );

    app.post("/charges", async (req, reply) => {
      const body = parse(CreateCharge, req.body);
      if (!body.ok) return send(reply, body.reply);
      const { amount: decimal, currency: lower, capture, source, metadata, return_url } = body.value;
      const threeDs = body.value.payment_method_options?.card.request_three_d_secure === "any";
      const currency = lower.toUpperCase();
      const amount = minorUnits(decimal, currency);
      if (!amount.ok) return send(reply, amount.reply);
      const key = idempotency(req);
      if (!key)
        return send(reply, invalid("an Idempotency-Key header is required", "idempotency_key_missing"));
      const base = `${req.protocol}://${req.host}`;
      return answer(ctx, reply, {
        psp,
        outage: OUTAGE,
        authorization: true,
        idempotency: key,
        process: () => {
          const charge = psp.authorize(
            {
              idempotencyKey: key.key,
              reference: metadata.reference,
              amount: amount.value,
              currency,
              capture,
              card: { number: source.number, expMonth: source.exp_month, expYear: source.exp_year },
              ...traceparentOf(req),
              ...(return_url !== undefined && { returnUrl: return_url }),
              ...(threeDs && { threeDs }),
              actionUrl: (id) => `${base}/acme/v1/3ds/${id}`,
            },
            ctx.now(),
          );
          const delayMs = source.number === SLOW_CARD ? ctx.slowCardDelayMs : 0;
          const declined = declineVerdict(charge.verdict);
          if (!declined) {
            return { reply: { status: 201, body: chargeBody(charge) }, delayMs };
          }
          const [code, declineCode] = CARD_ERRORS[declined];
          const error = { type: "card_error", code, message: "Your card was declined.", charge: charge.id };
          return {
            reply: { status: 402, body: { error: { ...error, decline_code: declineCode } } },
            delayMs,
          };
        },
      });
    });

    app.get("/charges/search", async (req, reply) => {
      const query = parse(SearchQuery, req.query);
      if (!query.ok) return send(reply, query.reply);
      const charge = psp.chargeByKey(query.value.idempotency_key);
      const body = { object: "search_result", data: charge ? [chargeBody(charge)] : [] };
      return answer(ctx, reply, { psp, outage: OUTAGE, process: () => ({ reply: { status: 200, body } }) });
    });

    app.post("/charges/:id/capture", async (req, reply) => {
      const params = parse(ChargeParams, req.params);
      const body = parse(CaptureBody, req.body ?? {});
      if (!params.ok) return send(reply, params.reply);
      if (!body.ok) return send(reply, body.reply);
      const id = params.value.id;
      const idem = idempotency(req);
      return answer(ctx, reply, {
        psp,
        outage: OUTAGE,
        ...(idem ? { idempotency: idem } : {}),
        process: () => {
          const charge = psp.charge(id);
          if (!charge)
            return { reply: refusalReply({ refused: "not_found", message: `no such charge ${id}` }) };
          const amount = body.value.amount ? minorUnits(body.value.amount, charge.currency) : undefined;
          if (amount && !amount.ok) return { reply: amount.reply };
          const done = psp.capture(id, amount?.value ?? charge.amount, charge.currency, {
            reference: id,
            at: ctx.now(),
          });
          return { reply: isRefusal(done) ? refusalReply(done) : { status: 200, body: chargeBody(done) } };
        },
      });
    });

    app.post("/charges/:id/cancel", async (req, reply) => {
      const params = parse(ChargeParams, req.params);
      if (!params.ok) return send(reply, params.reply);
      const idem = idempotency(req);
      return answer(ctx, reply, {
        psp,
        outage: OUTAGE,
        ...(idem ? { idempotency: idem } : {}),
        process: () => {
          const done = psp.void(params.value.id, { reference: params.value.id, at: ctx.now() });
          return { reply: isRefusal(done) ? refusalReply(done) : { status: 200, body: chargeBody(done) } };
        },
      });
    });

    app.post("/refunds", async (req, reply) => {
      const body = parse(RefundBody, req.body);
      if (!body.ok) return send(reply, body.reply);
      const idem = idempotency(req);
      return answer(ctx, reply, {
        psp,
        outage: OUTAGE,
        ...(idem ? { idempotency: idem } : {}),
        process: () => {
          const charge = psp.charge(body.value.charge);
          if (!charge) return { reply: refusalReply({ refused: "not_found", message: "no such charge" }) };
          const requested = body.value.amount;
          const amount = requested
            ? minorUnits(requested, charge.currency)
            : { ok: true as const, value: charge.capturedAmount - charge.refundedAmount };
          if (!amount.ok) return { reply: amount.reply };
          const id = randomId("re_", 24);
          const later = psp.behaviour.asyncRefunds === true;
          const op = { reference: id, at: ctx.now() };
          const done = psp.refund(charge.id, amount.value, charge.currency, op, later);
          if (isRefusal(done)) return { reply: refusalReply(done) };
          if (later) ctx.refundLater(psp, charge.id, id);
          const refund = {
            id,
            object: "refund",
            status: later ? "pending" : "succeeded",
            charge: charge.id,
            amount: toDecimalString(amount.value, charge.currency),
            currency: charge.currency.toLowerCase(),
            metadata: { reference: charge.reference },
          };
          return { reply: { status: 200, body: refund } };
        },
      });
    });
    done();
  };
  return routes;
}
