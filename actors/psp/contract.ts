// The one connector contract every PSP adapter implements. Adapters map a PSP's own HTTP API onto
// these normalized results; nothing outside actors/psp/ knows what a PSP's wire format looks like.
//
// The distinction that matters for money: `technical_error` means the PSP certainly did NOT accept
// the request (connection refused, an explicit "not processed" answer), so trying again or trying
// another PSP cannot charge twice. `unknown` means the request may have been accepted (timeout after
// sending, connection reset, 5xx after acceptance): it is resolved only by asking the same PSP for
// the status of the same idempotency key, never by failing over.

import type { DeclineCode } from "./decline-codes.ts";
import type { OutcomeClass, PspCapabilities } from "../policy/schemas.ts";

/** Card data in clear. Lives only in memory for the duration of one PSP call; never logged or stored. */
export type { CardSecret } from "../../config/card-seal.ts";
import type { CardSecret } from "../../config/card-seal.ts";

export { DeclineCode } from "./decline-codes.ts";

export type AuthorizeRequest = {
  /** Derived from the attempt intent; the same attempt always sends the same key. */
  idempotencyKey: string;
  /** Our payment id, so the PSP's records can be matched to ours. */
  reference: string;
  amount: number; // integer minor units
  currency: string; // ISO 4217
  /** true: authorize and capture in one call (capture: automatic). */
  capture: boolean;
  card: CardSecret;
  traceparent?: string;
};

/**
 * `class` is the code's OutcomeClass (decline-codes.ts): what the retry policy acts on. `soft` is kept
 * for the payment events and equals `class === "soft_decline"`.
 */
export type AuthorizeResult =
  | { outcome: "authorized"; pspReference: string; captured: boolean }
  | { outcome: "requires_action"; pspReference: string; actionUrl: string }
  | {
      outcome: "declined";
      code: DeclineCode;
      class: Extract<OutcomeClass, "hard_decline" | "soft_decline" | "auth_required">;
      soft: boolean;
      rawCode: string;
      pspReference?: string;
    }
  | { outcome: "technical_error"; code: string; class: "technical"; message: string }
  | { outcome: "unknown"; code: string; class: "unknown"; message: string };

export type CaptureRequest = {
  idempotencyKey: string;
  pspReference: string;
  amount: number;
  currency: string;
  traceparent?: string;
};
export type VoidRequest = { idempotencyKey: string; pspReference: string; traceparent?: string };
export type RefundRequest = {
  idempotencyKey: string;
  pspReference: string;
  amount: number;
  currency: string;
  traceparent?: string;
};

/** Result of capture, void and refund. */
export type OperationResult =
  | { outcome: "succeeded"; pspReference: string }
  | { outcome: "failed"; code: string; message: string } // the PSP refused the operation: final
  | { outcome: "technical_error"; code: string; class: "technical"; message: string }
  | { outcome: "unknown"; code: string; class: "unknown"; message: string };

/** Ask the PSP what became of an authorization attempt, by the attempt's idempotency key. */
export type StatusRequest = { idempotencyKey: string; traceparent?: string };
export type StatusResult =
  | { found: false }
  | { found: true; result: Exclude<AuthorizeResult, { outcome: "technical_error" | "unknown" }> }
  | { found: "unknown"; code: string; message: string }; // could not ask (PSP down, timeout)

/** A connector that declares its capabilities: what the adapters and the registry hand out. */
export type DeclaredConnector = PspConnector & { readonly capabilities: PspCapabilities };

export interface PspConnector {
  readonly name: string;
  /**
   * What this PSP can take (currencies, brands, 3-DS, ...). Every adapter declares it; optional here
   * only so that wrappers written before it existed still type-check (they should pass it on).
   */
  readonly capabilities?: PspCapabilities;
  authorize(req: AuthorizeRequest): Promise<AuthorizeResult>;
  capture(req: CaptureRequest): Promise<OperationResult>;
  void(req: VoidRequest): Promise<OperationResult>;
  refund(req: RefundRequest): Promise<OperationResult>;
  status(req: StatusRequest): Promise<StatusResult>;
}
