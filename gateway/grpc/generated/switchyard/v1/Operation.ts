// Original file: gateway/grpc/switchyard/v1/payments.proto

import type { Long } from '@grpc/proto-loader';

export interface Operation {
  'id'?: (string);
  'type'?: (string);
  'amount'?: (number | string | Long);
  'status'?: (string);
  'code'?: (string);
  'created_at'?: (string);
  '_code'?: "code";
}

export interface Operation__Output {
  'id': (string);
  'type': (string);
  'amount': (number);
  'status': (string);
  'code'?: (string);
  'created_at': (string);
  '_code'?: "code";
}
