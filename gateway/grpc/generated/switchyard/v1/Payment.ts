// Original file: gateway/grpc/switchyard/v1/payments.proto

import type { PaymentCard as _switchyard_v1_PaymentCard, PaymentCard__Output as _switchyard_v1_PaymentCard__Output } from '../../switchyard/v1/PaymentCard.ts';
import type { Attempt as _switchyard_v1_Attempt, Attempt__Output as _switchyard_v1_Attempt__Output } from '../../switchyard/v1/Attempt.ts';
import type { Operation as _switchyard_v1_Operation, Operation__Output as _switchyard_v1_Operation__Output } from '../../switchyard/v1/Operation.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * The payment object of the HTTP API (GET /v1/payments/{id}) without its routing, settlements and
 * disputes, which the HTTP API answers.
 */
export interface Payment {
  'id'?: (string);
  'merchant_id'?: (string);
  /**
   * created, authorizing, authorized, capturing, captured, requires_action, declined, failed,
   * canceled, partially_refunded, refunded, expired.
   */
  'status'?: (string);
  'amount'?: (number | string | Long);
  'currency'?: (string);
  'captured_amount'?: (number | string | Long);
  'refunded_amount'?: (number | string | Long);
  'capture'?: (string);
  'psp'?: (string);
  'expected_fee'?: (number | string | Long);
  'card'?: (_switchyard_v1_PaymentCard | null);
  'attempts'?: (_switchyard_v1_Attempt)[];
  'operations'?: (_switchyard_v1_Operation)[];
  /**
   * Set when status is requires_action: where to send the shopper.
   */
  'next_action_url'?: (string);
  'decline_code'?: (string);
  'failure_code'?: (string);
  'reference'?: (string);
  'metadata'?: ({[key: string]: string});
  'created_at'?: (string);
  'updated_at'?: (string);
  '_psp'?: "psp";
  '_expected_fee'?: "expected_fee";
  '_next_action_url'?: "next_action_url";
  '_decline_code'?: "decline_code";
  '_failure_code'?: "failure_code";
  '_reference'?: "reference";
}

/**
 * The payment object of the HTTP API (GET /v1/payments/{id}) without its routing, settlements and
 * disputes, which the HTTP API answers.
 */
export interface Payment__Output {
  'id': (string);
  'merchant_id': (string);
  /**
   * created, authorizing, authorized, capturing, captured, requires_action, declined, failed,
   * canceled, partially_refunded, refunded, expired.
   */
  'status': (string);
  'amount': (number);
  'currency': (string);
  'captured_amount': (number);
  'refunded_amount': (number);
  'capture': (string);
  'psp'?: (string);
  'expected_fee'?: (number);
  'card': (_switchyard_v1_PaymentCard__Output | null);
  'attempts': (_switchyard_v1_Attempt__Output)[];
  'operations': (_switchyard_v1_Operation__Output)[];
  /**
   * Set when status is requires_action: where to send the shopper.
   */
  'next_action_url'?: (string);
  'decline_code'?: (string);
  'failure_code'?: (string);
  'reference'?: (string);
  'metadata': ({[key: string]: string});
  'created_at': (string);
  'updated_at': (string);
  '_psp'?: "psp";
  '_expected_fee'?: "expected_fee";
  '_next_action_url'?: "next_action_url";
  '_decline_code'?: "decline_code";
  '_failure_code'?: "failure_code";
  '_reference'?: "reference";
}
