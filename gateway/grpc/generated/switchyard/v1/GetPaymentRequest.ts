// Original file: gateway/grpc/switchyard/v1/payments.proto


export interface GetPaymentRequest {
  'payment_id'?: (string);
}

export interface GetPaymentRequest__Output {
  'payment_id': (string);
}
