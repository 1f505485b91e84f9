// Original file: gateway/grpc/switchyard/v1/payments.proto


export interface CancelPaymentRequest {
  'idempotency_key'?: (string);
  'payment_id'?: (string);
}

export interface CancelPaymentRequest__Output {
  'idempotency_key': (string);
  'payment_id': (string);
}
