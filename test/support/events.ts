// Payment events as integration tests write them straight to the event store.
import type { PaymentCreated } from "../../actors/payment/core/events.ts";

export function paymentCreated(paymentId: string, at: string): PaymentCreated {
  return {
    type: "PaymentCreated",
    paymentId,
    merchantId: "m1",
    requestFingerprint: "fp",
    amount: 1000,
    currency: "EUR",
    capture: "manual",
    card: { brand: "visa", last4: "4242", binCountry: "US", fingerprint: "cf", expMonth: 12, expYear: 2030 },
    at,
  };
}
