// Original file: gateway/grpc/switchyard/v1/payments.proto

import type { Payment as _switchyard_v1_Payment, Payment__Output as _switchyard_v1_Payment__Output } from '../../switchyard/v1/Payment.ts';
import type { Long } from '@grpc/proto-loader';

export interface PaymentUpdate {
  'payment'?: (_switchyard_v1_Payment | null);
  /**
   * How many events the payment's history holds at this state (grows with each update).
   */
  'event_count'?: (number | string | Long);
}

export interface PaymentUpdate__Output {
  'payment': (_switchyard_v1_Payment__Output | null);
  /**
   * How many events the payment's history holds at this state (grows with each update).
   */
  'event_count': (number);
}
