// The payment object of the merchant API: what a merchant may see of a payment. Never a PAN or CVC;
// the card fingerprint stays internal too.
import { z } from "zod";
import { CaptureMode } from "./events.ts";
import { PaymentStatus, type Payment } from "./state.ts";

const Timestamp = z.string().describe("ISO 8601, UTC");

/**
 * The payment as the merchant API shows it, as an actor's reply (wire.ts, CommandReply) and a
 * merchant event (webhooks/core/catalog.ts) carry it: one schema, which the gateway names `Payment`
 * in /openapi.json (gateway/schemas.ts) and the registry publishes inside command-reply and
 * merchant-event.
 */
/** What every answer shows of a card: never its number. */
export const CardFactsView = z.object({
  brand: z.string(),
  last4: z.string(),
  bin_country: z.string().nullable(),
  exp_month: z.number().int(),
  exp_year: z.number().int(),
});

export const PaymentView = z.object({
  id: z.string(),
  object: z.literal("payment"),
  merchant_id: z.string(),
  status: z.enum(Object.values(PaymentStatus)),
  amount: z.number().int(),
  currency: z.string(),
  captured_amount: z.number().int(),
  refunded_amount: z.number().int(),
  capture: CaptureMode,
  psp: z.string().nullable(),
  expected_fee: z
    .number()
    .int()
    .nullable()
    .describe("The expected PSP fee of the current attempt, in minor units of the currency (fee policy)."),
  routing: z
    .object({
      policy_versions: z.object({
        routing: z.number().int(),
        fees: z.number().int(),
        retries: z.number().int(),
      }),
      rule_id: z.string().nullable().describe("The routing rule that matched; null: the fallback applied."),
      strategy: z.string(),
      reason: z.string(),
    })
    .nullable(),
  attempts: z.array(
    z.object({
      attempt: z.number().int(),
      psp: z.string(),
      status: z.string(),
      psp_reference: z.string().nullable(),
      code: z.string().nullable(),
      class: z
        .string()
        .nullable()
        .describe("hard_decline, soft_decline, technical, unknown or auth_required"),
      trigger: z.enum(["routed", "retry", "cascade"]).nullable(),
      expected_fee: z.number().int().nullable(),
      created_at: Timestamp,
    }),
  ),
  operations: z.array(
    z.object({
      id: z.string(),
      type: z.string(),
      amount: z.number().int(),
      status: z.string(),
      code: z.string().nullable(),
      created_at: Timestamp,
    }),
  ),
  settlements: z
    .array(
      z.object({
        type: z.enum(["capture", "refund"]),
        psp: z.string(),
        operation_id: z.string().nullable(),
        report_id: z.string(),
        batch: z.string(),
        payout_id: z.string().nullable(),
        amount: z.number().int(),
        fee: z.number().int().describe("The fee the PSP charged, in minor units."),
        expected_fee: z.number().int().nullable(),
        net: z.number().int(),
        settled_at: Timestamp,
      }),
    )
    .describe("What the PSPs' settlement reports said of this payment's captures and refunds."),
  disputes: z
    .array(
      z.object({
        id: z.string(),
        psp: z.string(),
        amount: z.number().int(),
        currency: z.string(),
        reason: z.string(),
        status: z.enum(["open", "won", "lost"]),
        opened_at: Timestamp,
        closed_at: Timestamp.nullable(),
      }),
    )
    .describe("Chargebacks the PSP notified on this payment: open until it says won or lost."),
  card: CardFactsView,
  next_action: z.object({ type: z.literal("redirect"), url: z.string() }).nullable(),
  decline_code: z.string().nullable().describe("Set when status is declined: the normalized code."),
  failure_code: z.string().nullable().describe("Set when status is failed."),
  reference: z.string().nullable(),
  metadata: z.record(z.string(), z.string()),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type PaymentView = z.infer<typeof PaymentView>;

export function toView(p: Payment): PaymentView {
  return {
    id: p.id,
    object: "payment",
    merchant_id: p.merchantId,
    status: p.status,
    amount: p.amount,
    currency: p.currency,
    captured_amount: p.capturedAmount,
    refunded_amount: p.refundedAmount,
    capture: p.capture,
    psp: p.psp ?? null,
    expected_fee: p.attempts.at(-1)?.expectedFee ?? null,
    routing: p.routing
      ? {
          policy_versions: p.routing.policyVersions,
          rule_id: p.routing.ruleId,
          strategy: p.routing.strategy,
          reason: p.routing.reason,
        }
      : null,
    attempts: p.attempts.map((a) => ({
      attempt: a.no,
      psp: a.psp,
      status: a.status,
      psp_reference: a.pspReference ?? null,
      code: a.code ?? null,
      class: a.class ?? (a.status === "unknown" ? "unknown" : null),
      trigger: a.trigger ?? null,
      expected_fee: a.expectedFee ?? null,
      created_at: a.requestedAt,
    })),
    operations: p.operations.map((o) => ({
      id: o.id,
      type: o.kind,
      amount: o.amount,
      status: o.status,
      code: o.code ?? null,
      created_at: o.requestedAt,
    })),
    settlements: (p.settlements ?? []).map((s) => ({
      type: s.kind,
      psp: s.psp,
      operation_id: s.operationId,
      report_id: s.reportId,
      batch: s.batch,
      payout_id: s.payoutId,
      amount: s.amount,
      fee: s.fee,
      expected_fee: s.expectedFee,
      net: s.net,
      settled_at: s.settledAt,
    })),
    disputes: (p.disputes ?? []).map((d) => ({
      id: d.id,
      psp: d.psp,
      amount: d.amount,
      currency: d.currency,
      reason: d.reason,
      status: d.status,
      opened_at: d.openedAt,
      closed_at: d.closedAt ?? null,
    })),
    card: {
      brand: p.card.brand,
      last4: p.card.last4,
      bin_country: p.card.binCountry,
      exp_month: p.card.expMonth,
      exp_year: p.card.expYear,
    },
    next_action:
      p.status === "requires_action" && p.actionUrl ? { type: "redirect", url: p.actionUrl } : null,
    decline_code: p.declineCode ?? null,
    failure_code: p.failureCode ?? null,
    reference: p.reference ?? null,
    metadata: p.metadata ?? {},
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
}
