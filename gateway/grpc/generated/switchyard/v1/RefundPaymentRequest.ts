// Original file: gateway/grpc/switchyard/v1/payments.proto

import type { Long } from '@grpc/proto-loader';

export interface RefundPaymentRequest {
  'idempotency_key'?: (string);
  'payment_id'?: (string);
  /**
   * Default: what remains of the captured amount.
   */
  'amount'?: (number | string | Long);
  '_amount'?: "amount";
}

export interface RefundPaymentRequest__Output {
  'idempotency_key': (string);
  'payment_id': (string);
  /**
   * Default: what remains of the captured amount.
   */
  'amount'?: (number);
  '_amount'?: "amount";
}
