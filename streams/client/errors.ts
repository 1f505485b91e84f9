// The client's one error: a stable code (the merchant API's codes, gateway/errors.ts, plus the few
// only NATS has), a message meant for a developer, and details. Thrown for input the client refuses
// before publishing and for a command the worker refused; never for a wait that ran out (that is a
// result: { status: "pending" }).
export class SwitchyardError extends Error {
  override name = "SwitchyardError";
  constructor(
    readonly code: SwitchyardErrorCode | (string & {}),
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The codes this client or the worker answers (docs/nats-client.md has what each means). */
export const SwitchyardErrorCode = {
  validationError: "validation_error",
  idempotencyKeyMissing: "idempotency_key_missing",
  idempotencyKeyReused: "idempotency_key_reused",
  invalidCharacters: "invalid_characters",
  cardNumberInFreeText: "card_number_in_free_text",
  cardTokenInvalid: "card_token_invalid",
  cardTokenExpired: "card_token_expired",
  paymentNotFound: "payment_not_found",
  invalidStateTransition: "invalid_state_transition",
  operationInProgress: "operation_in_progress",
  amountTooLarge: "amount_too_large",
  merchantMismatch: "merchant_mismatch",
  subjectMismatch: "subject_mismatch",
  unsupportedVersion: "unsupported_version",
  /** The command's JSON repeats a key in one object (a hand-built envelope: the client never sends one). */
  duplicateKey: "duplicate_key",
  /** NATS refused or did not store the command (not connected, no permission, no stream). */
  serviceUnavailable: "service_unavailable",
  /** PAY_OUT, the merchant events feed, does not exist on this deployment. */
  eventsUnavailable: "events_unavailable",
} as const;
export type SwitchyardErrorCode = (typeof SwitchyardErrorCode)[keyof typeof SwitchyardErrorCode];
