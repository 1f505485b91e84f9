// Original file: gateway/grpc/switchyard/v1/payments.proto

import type { Long } from '@grpc/proto-loader';

export interface Attempt {
  'attempt'?: (number);
  'psp'?: (string);
  'status'?: (string);
  'psp_reference'?: (string);
  'code'?: (string);
  'class'?: (string);
  'trigger'?: (string);
  'expected_fee'?: (number | string | Long);
  'created_at'?: (string);
  '_psp_reference'?: "psp_reference";
  '_code'?: "code";
  '_class'?: "class";
  '_trigger'?: "trigger";
  '_expected_fee'?: "expected_fee";
}

export interface Attempt__Output {
  'attempt': (number);
  'psp': (string);
  'status': (string);
  'psp_reference'?: (string);
  'code'?: (string);
  'class'?: (string);
  'trigger'?: (string);
  'expected_fee'?: (number);
  'created_at': (string);
  '_psp_reference'?: "psp_reference";
  '_code'?: "code";
  '_class'?: "class";
  '_trigger'?: "trigger";
  '_expected_fee'?: "expected_fee";
}
