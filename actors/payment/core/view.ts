// The payment object of the merchant API: what a merchant may see of a payment. Never a PAN or CVC;
// the card fingerprint stays internal too.
import type { Payment } from "./state.ts";

export type PaymentView = {
  id: string;
  object: "payment";
  merchant_id: string;
  status: Payment["status"];
  amount: number;
  currency: string;
  captured_amount: number;
  refunded_amount: number;
  capture: Payment["capture"];
  psp: string | null;
  /** The expected PSP fee of the attempt holding (or last trying) the payment, in minor units. */
  expected_fee: number | null;
  /** Which policies and rule routed the payment; null for payments routed before policies. */
  routing: {
    policy_versions: { routing: number; fees: number; retries: number };
    rule_id: string | null;
    strategy: string;
    reason: string;
  } | null;
  attempts: Array<{
    attempt: number;
    psp: string;
    status: string;
    psp_reference: string | null;
    code: string | null;
    /** hard_decline, soft_decline, technical, unknown or auth_required; null while pending or on success. */
    class: string | null;
    trigger: "routed" | "retry" | "cascade" | null;
    expected_fee: number | null;
    created_at: string;
  }>;
  operations: Array<{
    id: string;
    type: string;
    amount: number;
    status: string;
    code: string | null;
    created_at: string;
  }>;
  /** What the PSPs' settlement reports said of this payment's captures and refunds. */
  settlements: Array<{
    type: "capture" | "refund";
    psp: string;
    operation_id: string | null;
    report_id: string;
    batch: string;
    payout_id: string | null;
    amount: number;
    fee: number;
    expected_fee: number | null;
    net: number;
    settled_at: string;
  }>;
  /** Chargebacks the PSP notified: open until it says won or lost. */
  disputes: Array<{
    id: string;
    psp: string;
    amount: number;
    currency: string;
    reason: string;
    status: "open" | "won" | "lost";
    opened_at: string;
    closed_at: string | null;
  }>;
  card: { brand: string; last4: string; bin_country: string | null; exp_month: number; exp_year: number };
  next_action: { type: "redirect"; url: string } | null;
  decline_code: string | null;
  failure_code: string | null;
  reference: string | null;
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string;
};

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
