// The one connector contract every PSP adapter implements. Adapters map a PSP's own HTTP API onto
// these normalized results; nothing outside actors/psp/ knows what a PSP's wire format looks like.
//
// The distinction that matters for money: `technical_error` means the PSP certainly did NOT accept
// the request (connection refused, an explicit "not processed" answer), so trying again or trying
// another PSP cannot charge twice. `unknown` means the request may have been accepted (timeout after
// sending, connection reset, 5xx after acceptance): it is resolved only by asking the same PSP for
// the status of the same idempotency key, never by failing over.

import type { DeclineCode } from "./decline-codes.ts";
import type { OutcomeClass, PspCapabilities } from "../policy/core/schemas.ts";

/** Card data in clear. Lives only in memory for the duration of one PSP call; never logged or stored. */
export type { CardSecret } from "../payment/core/card.ts";
import type { CardSecret } from "../payment/core/card.ts";

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
  /** Where the PSP sends the shopper after a 3-D Secure challenge (the merchant's return_url). */
  returnUrl?: string;
  /** Ask the PSP to authenticate the shopper (3-D Secure): a step-up after an authentication_required decline. */
  threeDs?: boolean;
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

/**
 * Result of capture, void and refund. `accepted`: the PSP took it and completes it later (an
 * asynchronous refund); its notification brings the final answer.
 */
export type OperationResult =
  | { outcome: "succeeded"; pspReference: string }
  | { outcome: "accepted"; pspReference: string }
  | { outcome: "failed"; code: string; message: string } // the PSP refused the operation: final
  | { outcome: "technical_error"; code: string; class: "technical"; message: string }
  | { outcome: "unknown"; code: string; class: "unknown"; message: string };

/** Ask the PSP what became of an authorization attempt, by the attempt's idempotency key. */
export type StatusRequest = { idempotencyKey: string; traceparent?: string };
export type StatusResult =
  | { found: false }
  | { found: true; result: Exclude<AuthorizeResult, { outcome: "technical_error" | "unknown" }> }
  | { found: "unknown"; code: string; message: string }; // could not ask (PSP down, timeout)

export { PspNotification } from "../payment/core/notification.ts";
import type { PspNotification } from "../payment/core/notification.ts";

/** A notification request as it reached the platform's door: raw body, headers lowercased. */
export type NotificationRequest = {
  headers: Readonly<Record<string, string | undefined>>;
  /** The body exactly as received: signatures are over these bytes. */
  body: string;
  now: Date;
};

/**
 * What a PSP's notification request says, once its signature is checked: the normalized
 * notifications and the acknowledgement the PSP expects back (bolt wants `[accepted]`); or why it
 * cannot be trusted, with the payment it claims to be about when that can be read (the platform asks
 * the PSP for that payment's status instead of believing it).
 */
export type ParsedNotifications =
  | {
      ok: true;
      notifications: PspNotification[];
      ack: { status: number; body: string; contentType: string };
    }
  | {
      ok: false;
      /** not_configured: this platform holds no secret for the PSP, so nothing of it can be verified. */
      reason: "bad_signature" | "stale_timestamp" | "malformed" | "not_configured";
      paymentReference?: string;
    };

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
  /**
   * Verify and normalize a notification the PSP sent to POST /webhooks/psp/<name>. Pure (no I/O):
   * the signature key is the connector's own configuration. Optional so that wrappers written before
   * it still type-check; every adapter implements it.
   */
  parseNotification?(req: NotificationRequest): ParsedNotifications;
}
