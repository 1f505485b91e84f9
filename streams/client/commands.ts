// What the client publishes, built and checked before it leaves the process (pure apart from the
// clock and randomness it is given): ids derived as the gateway derives them (core/ids.ts), the
// envelope checked with the schema the worker parses it with (core/wire.ts), and refused here with
// the worker's codes when it would be refused there. No card number: a card travels as a token.
import { createHash } from "node:crypto";
import { containsCardNumber } from "../../actors/payment/core/card-in-text.ts";
import { CardTokenFormatError, splitCardToken } from "../../actors/payment/core/card-token.ts";
import { findUnsafeText, UNSAFE_TEXT } from "../../actors/payment/core/contract.ts";
import { canonicalJson, operationIdFor, paymentIdFor } from "../../actors/payment/core/ids.ts";
import { CommandEnvelope } from "../../actors/payment/core/wire.ts";
import { SwitchyardError } from "./errors.ts";

export type CreatePaymentInput = {
  idempotencyKey: string;
  /** Integer, in the currency's minor unit. */
  amount: number;
  currency: string;
  /** Default "automatic". */
  capture?: "automatic" | "manual";
  /** The `token` of POST /v1/card-tokens. */
  cardToken: string;
  reference?: string;
  metadata?: Record<string, string>;
};

export type FollowUpInput = { idempotencyKey: string; amount?: number };
export type FollowUpKind = "capture" | "refund" | "cancel";

const FOLLOW_UP = { capture: "CapturePayment", refund: "RefundPayment", cancel: "CancelPayment" } as const;

/** The envelope, its payment, and the message id a retried publish of the same request repeats. */
export type Built = { envelope: CommandEnvelope; paymentId: string; msgId: string };

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

function idempotencyKeyOf(input: unknown): string {
  const key = (input as { idempotencyKey?: unknown } | null | undefined)?.idempotencyKey;
  if (key === undefined || key === null || key === "")
    throw new SwitchyardError("idempotency_key_missing", "idempotencyKey is required");
  if (typeof key !== "string" || !IDEMPOTENCY_KEY.test(key))
    throw new SwitchyardError(
      "validation_error",
      "idempotencyKey must be 1 to 255 printable ASCII characters",
      {
        issues: [{ path: "idempotencyKey", code: "invalid_format" }],
      },
    );
  return key;
}

/**
 * The request fingerprint: an unkeyed SHA-256 of the canonical request, prefixed so it can never
 * equal the gateway's keyed one. Unkeyed is safe here because nothing in it is secret: no card
 * number, only the token's card fingerprint (itself a keyed hash), so there is nothing to brute
 * force. The card is named by that fingerprint, not by the token (every token differs), so a retry
 * with a fresh token for the same card is the same request, and one for another card is not.
 */
export function clientFingerprint(body: unknown): string {
  return `sha256:${createHash("sha256").update(canonicalJson(body)).digest("hex")}`;
}

export function buildCreate(merchantId: string, input: CreatePaymentInput, now: Date): Built {
  const key = idempotencyKeyOf(input);
  if (typeof input.cardToken !== "string")
    throw new SwitchyardError("validation_error", "cardToken: a card token is required", {
      issues: [{ path: "cardToken", code: "invalid_type" }],
    });
  let facts;
  try {
    facts = splitCardToken(input.cardToken).facts;
  } catch (err) {
    throw new SwitchyardError(
      "card_token_invalid",
      err instanceof CardTokenFormatError ? err.message : "not a card token",
    );
  }
  if (Date.parse(facts.expires_at) <= now.getTime())
    throw new SwitchyardError("card_token_expired", `card token expired at ${facts.expires_at}`);
  const paymentId = paymentIdFor(merchantId, key);
  const capture = input.capture ?? "automatic";
  const request = {
    amount: input.amount,
    currency: input.currency,
    capture,
    reference: input.reference,
    metadata: input.metadata,
    card_fingerprint: facts.fingerprint,
  };
  const raw = {
    v: 1,
    command: {
      type: "CreatePayment",
      paymentId,
      merchantId,
      requestFingerprint: clientFingerprint(request),
      amount: input.amount,
      currency: input.currency,
      capture,
      // What the token says; the worker takes the facts from the token itself, not from here.
      card: {
        brand: facts.brand,
        last4: facts.last4,
        binCountry: facts.bin_country,
        fingerprint: facts.fingerprint,
        expMonth: facts.exp_month,
        expYear: facts.exp_year,
      },
      ...(input.reference !== undefined && { reference: input.reference }),
      ...(input.metadata !== undefined && { metadata: input.metadata }),
      at: now.toISOString(),
    },
    cardToken: input.cardToken,
  };
  return { envelope: checked(raw), paymentId, msgId: `client:${paymentId}` };
}

export function buildFollowUp(
  merchantId: string,
  paymentId: unknown,
  kind: FollowUpKind,
  input: FollowUpInput,
  now: Date,
): Built {
  if (typeof paymentId !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(paymentId))
    throw new SwitchyardError("validation_error", "paymentId: not a payment id", {
      issues: [{ path: "paymentId", code: "invalid_format" }],
    });
  const key = idempotencyKeyOf(input);
  const operationId = operationIdFor(paymentId, kind, key);
  const amount = kind === "cancel" || input.amount === undefined ? {} : { amount: input.amount };
  const raw = {
    v: 1,
    command: {
      type: FOLLOW_UP[kind],
      paymentId,
      merchantId,
      operationId,
      requestFingerprint: clientFingerprint(amount),
      ...amount,
      at: now.toISOString(),
    },
  };
  return { envelope: checked(raw), paymentId, msgId: `client:${operationId}` };
}

/** The worker's own checks, before publishing: the same schema, text rules and card-number rule. */
function checked(raw: unknown): CommandEnvelope {
  const parsed = CommandEnvelope.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      // Named as the caller named them: `amount`, not `command.amount`.
      .map((i) => ({
        path: i.path.join(".").replace(/^command\./, "") || "(root)",
        code: i.code,
        message: i.message,
      }));
    throw new SwitchyardError("validation_error", issues.map((i) => `${i.path}: ${i.message}`).join("; "), {
      issues,
    });
  }
  const unsafe = findUnsafeText(parsed.data);
  if (unsafe !== undefined)
    throw new SwitchyardError("invalid_characters", `${unsafe.path}: ${UNSAFE_TEXT[unsafe.problem]}`, {
      issues: [{ path: unsafe.path, code: unsafe.problem }],
    });
  const { cardToken: _token, ...rest } = parsed.data;
  if (containsCardNumber(JSON.stringify(rest)))
    throw new SwitchyardError(
      "card_number_in_free_text",
      "the request holds what looks like a card number: a card travels only as a card token",
    );
  return parsed.data;
}
