// Between the proto messages and what the rest of the gateway speaks: a request becomes the HTTP
// API's body and goes through the same checks (no NUL or lone surrogate, no card number in free text,
// the same zod schema), so both edges accept and refuse the same things and a request under one key
// is the same request over either (same fingerprint). A payment view becomes the proto Payment.
import type { z } from "zod";
import type { PaymentView } from "../../actors/payment/core/view.ts";
import { cardNumberIssues } from "../card-in-text.ts";
import { ApiError, validationError, type ValidationIssue } from "../errors.ts";
import { unsafeTextError } from "../http-edges.ts";
import { findUnsafeText } from "../../actors/payment/core/contract.ts";
import { CaptureBody, CreatePaymentBody, IdempotencyKey, PaymentIdParams, RefundBody } from "../schemas.ts";
import type { CreatePaymentRequest__Output } from "./generated/switchyard/v1/CreatePaymentRequest.ts";
import type { Payment } from "./generated/switchyard/v1/Payment.ts";

/** A body path of the HTTP API as the proto field it came from (`payment_method.card.cvc` → `card.cvc`). */
export function protoField(path: string): string {
  if (path === "payment_method") return "card";
  return path.replace(/^payment_method\.(card|return_url)/, "$1");
}

/** The checks every HTTP body passes before zod, then zod: the parsed value, or the ApiError. */
function checked<S extends z.ZodType>(schema: S, body: Record<string, unknown>): z.output<S> {
  const unsafe = findUnsafeText(body);
  if (unsafe !== undefined) throw renamed(unsafeTextError("body", unsafe));
  const cards = cardNumberIssues(body, "body");
  if (cards.length > 0) {
    const first = cards[0]!;
    throw new ApiError("card_number_in_free_text", `${protoField(first.path)}: ${first.message}`, {
      issues: cards.map(renameIssue),
    });
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw validationError(
    parsed.error.issues.map((i): ValidationIssue => ({
      in: "body",
      path: protoField(i.path.join(".")),
      code: i.code,
      message: i.message,
    })),
  );
}

function renameIssue(i: ValidationIssue): ValidationIssue {
  return { ...i, path: protoField(i.path) };
}

function renamed(e: ApiError): ApiError {
  const issues = Array.isArray(e.details.issues) ? (e.details.issues as ValidationIssue[]) : [];
  return new ApiError(
    e.code,
    e.message.replace(/^[^:]*/, (p) => protoField(p)),
    {
      ...e.details,
      issues: issues.map(renameIssue),
    },
  );
}

/** The request's idempotency key, as the HTTP API's Idempotency-Key header is checked. */
export function idempotencyKeyOf(raw: string): string {
  if (raw === "") throw new ApiError("idempotency_key_missing", "this request needs an idempotency_key");
  const parsed = IdempotencyKey.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw validationError([
    {
      in: "body",
      path: "idempotency_key",
      code: "invalid_format",
      message: "idempotency_key must be 1 to 255 printable ASCII characters",
    },
  ]);
}

/** A payment id as the HTTP API's path parameter is checked (nothing but an id reaches a subject). */
export function paymentIdOf(raw: string): string {
  const where = { payment_id: raw };
  const unsafe = findUnsafeText(where);
  if (unsafe !== undefined) throw unsafeTextError("body", unsafe);
  const cards = cardNumberIssues(where, "body");
  if (cards.length > 0)
    throw new ApiError("card_number_in_free_text", `payment_id: ${cards[0]!.message}`, { issues: cards });
  const parsed = PaymentIdParams.safeParse({ id: raw });
  if (parsed.success) return parsed.data.id;
  throw validationError([
    { in: "body", path: "payment_id", code: "invalid_format", message: "not a payment id" },
  ]);
}

export function createBodyOf(r: CreatePaymentRequest__Output): CreatePaymentBody {
  const card = r.card && {
    number: r.card.number,
    exp_month: r.card.exp_month,
    exp_year: r.card.exp_year,
    cvc: r.card.cvc,
  };
  return checked(CreatePaymentBody, {
    amount: r.amount,
    currency: r.currency,
    // proto3 has no "absent" for a plain string: empty is the default, as the HTTP API's omitted field.
    ...(r.capture !== "" && { capture: r.capture }),
    payment_method: {
      type: "card",
      card: card ?? undefined,
      ...(r.return_url !== undefined && { return_url: r.return_url }),
    },
    ...(r.reference !== undefined && { reference: r.reference }),
    ...(Object.keys(r.metadata).length > 0 && { metadata: r.metadata }),
  });
}

export function amountBodyOf(
  operation: "capture" | "refund",
  amount: number | undefined,
): { amount?: number | undefined } {
  const body = amount === undefined ? {} : { amount };
  return checked(operation === "capture" ? CaptureBody : RefundBody, body);
}

const orUndefined = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

export function toProtoPayment(v: PaymentView): Payment {
  return {
    id: v.id,
    merchant_id: v.merchant_id,
    status: v.status,
    amount: v.amount,
    currency: v.currency,
    captured_amount: v.captured_amount,
    refunded_amount: v.refunded_amount,
    capture: v.capture,
    psp: orUndefined(v.psp),
    expected_fee: orUndefined(v.expected_fee),
    card: {
      brand: v.card.brand,
      last4: v.card.last4,
      bin_country: orUndefined(v.card.bin_country),
      exp_month: v.card.exp_month,
      exp_year: v.card.exp_year,
    },
    attempts: v.attempts.map((a) => ({
      attempt: a.attempt,
      psp: a.psp,
      status: a.status,
      psp_reference: orUndefined(a.psp_reference),
      code: orUndefined(a.code),
      class: orUndefined(a.class),
      trigger: orUndefined(a.trigger),
      expected_fee: orUndefined(a.expected_fee),
      created_at: a.created_at,
    })),
    operations: v.operations.map((o) => ({
      id: o.id,
      type: o.type,
      amount: o.amount,
      status: o.status,
      code: orUndefined(o.code),
      created_at: o.created_at,
    })),
    next_action_url: v.next_action?.url,
    decline_code: orUndefined(v.decline_code),
    failure_code: orUndefined(v.failure_code),
    reference: orUndefined(v.reference),
    metadata: v.metadata,
    created_at: v.created_at,
    updated_at: v.updated_at,
  };
}
