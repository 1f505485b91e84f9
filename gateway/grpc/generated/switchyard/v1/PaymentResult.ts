// Original file: gateway/grpc/switchyard/v1/payments.proto

import type { Payment as _switchyard_v1_Payment, Payment__Output as _switchyard_v1_Payment__Output } from '../../switchyard/v1/Payment.ts';

/**
 * A command's answer: the payment, and whether the operation is still under way (the HTTP API's 202:
 * the gateway stopped waiting before the payment came to rest; WatchPayment or GetPayment follow it).
 */
export interface PaymentResult {
  'payment'?: (_switchyard_v1_Payment | null);
  'pending'?: (boolean);
}

/**
 * A command's answer: the payment, and whether the operation is still under way (the HTTP API's 202:
 * the gateway stopped waiting before the payment came to rest; WatchPayment or GetPayment follow it).
 */
export interface PaymentResult__Output {
  'payment': (_switchyard_v1_Payment__Output | null);
  'pending': (boolean);
}
