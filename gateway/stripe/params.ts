// The parameters of the Stripe routes, as zod schemas over the form's strings: every value arrives
// as a string and is coerced here (`"2000"` → 2000, `"true"` → true, `"eur"` → EUR). A parameter no
// schema names is refused as Stripe does ("Received unknown parameter"); the few Stripe parameters
// accepted but ignored are listed (IGNORED), as in docs/stripe.md. The card itself is validated by
// the native API's own schema (CreatePaymentBody), with its errors named in Stripe's notation.
import { z } from "zod";
import { Amount } from "../../actors/payment/core/contract.ts";
import { CreatePaymentBody } from "../schemas.ts";
import { invalidRequest, StripeApiError } from "./errors.ts";
import type { FormObject } from "./form.ts";

const int = (what: string) =>
  z
    .string()
    .regex(/^(0|[1-9]\d{0,15})$/, `${what} must be an integer`)
    .transform(Number);
const amount = int("amount").pipe(Amount);
const bool = z.enum(["true", "false"]).transform((v) => v === "true");
const text = (max: number) => z.string().max(max);
/** Stripe clears metadata with `metadata=` (an empty string): taken as `{}`. */
const metadata = z.union([z.literal("").transform(() => ({})), z.record(z.string(), z.string())]);

/** Accepted, validated as strings at most, and without effect here. */
const IGNORED = {
  expand: z.union([z.array(text(200)), text(200)]).optional(),
  automatic_payment_methods: z.looseObject({}).optional(),
  receipt_email: text(512).optional(),
  statement_descriptor: text(22).optional(),
  statement_descriptor_suffix: text(22).optional(),
  use_stripe_sdk: bool.optional(),
  error_on_requires_action: bool.optional(),
};

const CardData = z.strictObject({
  type: z.literal("card"),
  card: z.strictObject({
    number: text(19),
    exp_month: int("exp_month"),
    exp_year: int("exp_year"),
    cvc: text(4),
  }),
});
export type CardData = z.infer<typeof CardData>["card"];

const intentFields = {
  amount: amount.optional(),
  currency: z
    .string()
    .regex(/^[a-zA-Z]{3}$/, "currency must be a three-letter ISO code")
    .transform((c) => c.toUpperCase())
    .optional(),
  capture_method: z
    .enum(["automatic", "automatic_async", "manual"])
    .transform((m) => (m === "manual" ? "manual" : "automatic"))
    .optional(),
  payment_method: text(100).optional(),
  payment_method_data: CardData.optional(),
  payment_method_types: z.array(z.literal("card")).optional(),
  metadata: metadata.optional(),
  description: text(1000).optional(),
  return_url: text(2048).optional(),
};

export const CreateIntentParams = z.strictObject({
  ...intentFields,
  amount: amount,
  currency: intentFields.currency.unwrap(),
  confirm: bool.optional(),
  ...IGNORED,
});
export type CreateIntentParams = z.infer<typeof CreateIntentParams>;

export const UpdateIntentParams = z.strictObject({ ...intentFields, ...IGNORED });
export type UpdateIntentParams = z.infer<typeof UpdateIntentParams>;

export const ConfirmIntentParams = z.strictObject({
  payment_method: intentFields.payment_method,
  payment_method_data: intentFields.payment_method_data,
  return_url: intentFields.return_url,
  ...IGNORED,
});
export type ConfirmIntentParams = z.infer<typeof ConfirmIntentParams>;

export const CaptureIntentParams = z.strictObject({
  amount_to_capture: amount.optional(),
  final_capture: bool.optional(),
  ...IGNORED,
});

export const CancelIntentParams = z.strictObject({
  cancellation_reason: z.enum(["duplicate", "fraudulent", "requested_by_customer", "abandoned"]).optional(),
  ...IGNORED,
});

export const CreateRefundParams = z.strictObject({
  payment_intent: text(100).optional(),
  charge: text(100).optional(),
  amount: amount.optional(),
  reason: z.enum(["duplicate", "fraudulent", "requested_by_customer"]).optional(),
  metadata: metadata.optional(),
  ...IGNORED,
});

const limit = int("limit").pipe(z.number().int().min(1).max(100));

export const ListIntentsParams = z.strictObject({
  limit: limit.optional(),
  starting_after: text(100).optional(),
  expand: IGNORED.expand,
});

export const ListRefundsParams = z.strictObject({
  limit: limit.optional(),
  starting_after: text(100).optional(),
  payment_intent: text(100).optional(),
  charge: text(100).optional(),
  expand: IGNORED.expand,
});

export const RetrieveParams = z.strictObject({ expand: IGNORED.expand, client_secret: text(200).optional() });

/** `a.b.0` → `a[b][0]`, Stripe's way of naming a nested parameter. */
export function bracketed(path: ReadonlyArray<PropertyKey>): string {
  const [head, ...rest] = path.map(String);
  return (head ?? "") + rest.map((s) => `[${s}]`).join("");
}

/** The parameters, or Stripe's invalid_request_error naming the first wrong one. */
export function parseParams<S extends z.ZodType>(schema: S, params: FormObject | undefined): z.output<S> {
  const r = schema.safeParse(params ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (!issue) throw invalidRequest("Invalid request.");
  if (issue.code === "unrecognized_keys") {
    const key = bracketed([...issue.path, issue.keys[0] ?? ""]);
    throw invalidRequest(`Received unknown parameter: ${key}`, key, "parameter_unknown");
  }
  const param = bracketed(issue.path);
  if (issue.code === "invalid_type" && issue.input === undefined)
    throw invalidRequest(`Missing required param: ${param}.`, param, "parameter_missing");
  // The message never quotes the value: it may be a card number.
  throw invalidRequest(`Invalid ${param}: ${issue.message}`, param, "parameter_invalid");
}

/**
 * The native create body, checked by the native schema (Luhn, expiry, metadata limits, return URL):
 * the card goes through the same rules whichever API it came in by.
 */
export function nativeBody(b: {
  amount: number;
  currency: string;
  capture: "automatic" | "manual";
  card: CardData;
  metadata: Record<string, string>;
  return_url?: string | undefined;
}): CreatePaymentBody {
  const r = CreatePaymentBody.safeParse({
    amount: b.amount,
    currency: b.currency,
    capture: b.capture,
    payment_method: {
      type: "card",
      card: b.card,
      ...(b.return_url !== undefined && { return_url: b.return_url }),
    },
    ...(Object.keys(b.metadata).length > 0 && { metadata: b.metadata }),
  });
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue?.path ?? [];
  const param =
    path[0] === "payment_method"
      ? path[1] === "return_url"
        ? "return_url"
        : bracketed(["payment_method_data", ...path.slice(1)])
      : bracketed(path);
  const code = path[1] === "card" ? cardCode(String(path[2] ?? "")) : "parameter_invalid";
  const status = path[1] === "card" ? 402 : 400;
  const message = `Invalid ${param}: ${issue?.message ?? "invalid value"}`;
  if (status === 400) throw invalidRequest(message, param, code);
  throw cardError(message, param, code);
}

function cardCode(field: string): string {
  if (field === "number") return "incorrect_number";
  if (field === "cvc") return "invalid_cvc";
  if (field === "exp_month") return "invalid_expiry_month";
  return "invalid_expiry_year";
}

const cardError = (message: string, param: string, code: string) =>
  new StripeApiError(402, "card_error", message, { code, param });
