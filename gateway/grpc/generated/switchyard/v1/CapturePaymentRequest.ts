// Original file: gateway/grpc/switchyard/v1/payments.proto

import type { Long } from '@grpc/proto-loader';

export interface CapturePaymentRequest {
  'idempotency_key'?: (string);
  'payment_id'?: (string);
  /**
   * Default: the whole authorized amount.
   */
  'amount'?: (number | string | Long);
  '_amount'?: "amount";
}

export interface CapturePaymentRequest__Output {
  'idempotency_key': (string);
  'payment_id': (string);
  /**
   * Default: the whole authorized amount.
   */
  'amount'?: (number);
  '_amount'?: "amount";
}
