// The zod schemas of the merchant API's HTTP bodies and responses. They validate requests (through
// fastify-type-provider-zod), shape responses (unknown fields of a view are stripped on the way
// out) and are the source of /openapi.json: one definition, so the document cannot drift. Each
// top-level schema carries its component name (`.meta({ id })`): a client generated from the
// document gets `Payment`, `Error`, `CreatePaymentRequest`… as named types.
import { z } from "zod";
import { luhnValid, isExpired } from "../actors/payment/core/card.ts";
import { CaptureMode } from "../actors/payment/core/events.ts";
import {
  Amount as ContractAmount,
  Currency as ContractCurrency,
  ID_PATTERN,
} from "../actors/payment/core/contract.ts";
import { PaymentView } from "../actors/payment/core/view.ts";
import { ERROR_CODES } from "./errors.ts";

// Amounts, currencies and ids are defined once (actors/payment/core/contract.ts) for HTTP bodies, NATS
// commands and events alike; here they only gain their documentation and their messages.
const CURRENCIES = ContractCurrency.options;

/** Printable ASCII, as Stripe accepts; the key only ever feeds a hash. */
export const IdempotencyKey = z
  .string()
  .regex(/^[\x20-\x7e]{1,255}$/, "Idempotency-Key must be 1 to 255 printable ASCII characters")
  .describe("Makes the request safe to retry: the same key and body always yield the same result.");

/** Documents the header; the route's onRequest hook enforces it first, with its own error code. */
export const IdempotencyHeaders = z.looseObject({ "idempotency-key": IdempotencyKey });

/** Ids as commands carry them (they end up in NATS subjects, so nothing else gets through). */
export const PaymentIdParams = z.object({
  id: z.string().regex(ID_PATTERN, "not a payment id").describe("The payment id, e.g. pay_3f2a…"),
});

const Amount = ContractAmount.describe(
  "Integer amount in the currency's minor unit (cents for EUR, yen for JPY, fils for KWD).",
);

const Currency = z
  .enum(CURRENCIES, {
    error: (iss) =>
      typeof iss.input === "string" && CURRENCIES.includes(iss.input.toUpperCase())
        ? "currency must be an uppercase ISO 4217 code"
        : "unknown currency: not an ISO 4217 code this platform accepts",
  })
  .describe("ISO 4217 code, uppercase.");

function currentMonth(): { year: number; month: number } {
  const now = new Date();
  return { year: now.getUTCFullYear(), month: now.getUTCMonth() + 1 };
}

// Messages never repeat the value: it would put a card number into an error body or a log line.
// One card schema for every door a card comes through (a payment, a card token).
export const Card = z
  .strictObject({
    number: z
      .string()
      .regex(/^\d{12,19}$/, { message: "card number must be 12 to 19 digits, without spaces", abort: true })
      .refine(luhnValid, "card number is not valid (Luhn check failed)"),
    exp_month: z.number().int().min(1).max(12),
    exp_year: z.number().int().min(2000).max(2100),
    cvc: z.string().regex(/^\d{3,4}$/, "cvc must be 3 or 4 digits"),
  })
  .refine((c) => !isExpired(c.exp_month, c.exp_year, currentMonth()), {
    message: "the card has expired",
    path: ["exp_year"],
  });

const Metadata = z
  .record(z.string().min(1).max(40), z.string().max(500))
  .refine((m) => Object.keys(m).length <= 20, "metadata may have at most 20 keys")
  .describe("Up to 20 string pairs (key ≤ 40, value ≤ 500 characters), returned as given.");

/** https anywhere; plain http only to this machine (a developer's shop on localhost). */
const ReturnUrl = z
  .string()
  .max(2048)
  .refine((raw) => {
    if (!URL.canParse(raw)) return false;
    const u = new URL(raw);
    if (u.username !== "" || u.password !== "") return false;
    if (u.protocol === "https:") return true;
    return u.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
  }, "return_url must be an https URL (or http to localhost) without credentials")
  .describe("Where the shopper is sent after a 3-D Secure challenge (https, or http to localhost).");

export const CreatePaymentBody = z
  .strictObject({
    amount: Amount,
    currency: Currency,
    capture: CaptureMode.default("automatic").describe(
      "automatic: authorize and capture; manual: authorize only, capture later.",
    ),
    payment_method: z.strictObject({ type: z.literal("card"), card: Card, return_url: ReturnUrl.optional() }),
    reference: z.string().max(256).optional().describe("The merchant's own reference (order number)."),
    metadata: Metadata.optional(),
  })
  .meta({ id: "CreatePaymentRequest" });
export type CreatePaymentBody = z.infer<typeof CreatePaymentBody>;

export const CaptureBody = z
  .strictObject({
    amount: ContractAmount.optional().describe("At most the authorized amount; default all of it."),
  })
  .meta({ id: "CaptureRequest" });
export type CaptureBody = z.infer<typeof CaptureBody>;

export const RefundBody = z
  .strictObject({
    amount: ContractAmount.optional().describe(
      "Refunds add up to at most the captured amount; default what remains.",
    ),
  })
  .meta({ id: "RefundRequest" });
export type RefundBody = z.infer<typeof RefundBody>;

export const CancelBody = z.strictObject({}).meta({ id: "CancelRequest" });
export type CancelBody = z.infer<typeof CancelBody>;

/** The payment object: its schema is the worker's view (actors/payment/core/view.ts), named here. */
export const PaymentResponse = PaymentView.meta({ id: "Payment" });

export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      details: z
        .record(z.string(), z.unknown())
        .describe("validation_error: { issues: [{ in, path, code, message }] }; otherwise usually {}"),
    }),
  })
  .meta({ id: "Error", description: "The body of every error answer." });

export const HealthResponse = z.object({ status: z.literal("ok") }).meta({ id: "Health" });
export const ReadyResponse = z
  .object({
    status: z.enum(["ready", "not_ready"]),
    checks: z
      .record(z.string(), z.string())
      .describe(
        'Per dependency: "ok", "failed" or "timeout". `psp_notifications`: "ok", or "closed: <psps>" ' +
          "for PSPs whose notification secret is not configured (reported, not counted against readiness).",
      ),
  })
  .meta({ id: "Readiness" });
