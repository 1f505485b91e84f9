// Original file: gateway/grpc/switchyard/v1/payments.proto


export interface WatchPaymentRequest {
  'payment_id'?: (string);
}

export interface WatchPaymentRequest__Output {
  'payment_id': (string);
}
