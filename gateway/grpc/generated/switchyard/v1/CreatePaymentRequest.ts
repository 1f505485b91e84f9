// Original file: gateway/grpc/switchyard/v1/payments.proto

import type { Card as _switchyard_v1_Card, Card__Output as _switchyard_v1_Card__Output } from '../../switchyard/v1/Card.ts';
import type { Long } from '@grpc/proto-loader';

export interface CreatePaymentRequest {
  /**
   * Required: 1 to 255 printable ASCII characters (the HTTP API's Idempotency-Key header).
   */
  'idempotency_key'?: (string);
  /**
   * In the currency's minor unit; positive.
   */
  'amount'?: (number | string | Long);
  /**
   * ISO 4217, uppercase, one a configured PSP takes.
   */
  'currency'?: (string);
  /**
   * "automatic" (default when empty) or "manual".
   */
  'capture'?: (string);
  'card'?: (_switchyard_v1_Card | null);
  /**
   * Where the shopper returns after a 3-D Secure challenge (https, or http to localhost).
   */
  'return_url'?: (string);
  'reference'?: (string);
  'metadata'?: ({[key: string]: string});
  '_return_url'?: "return_url";
  '_reference'?: "reference";
}

export interface CreatePaymentRequest__Output {
  /**
   * Required: 1 to 255 printable ASCII characters (the HTTP API's Idempotency-Key header).
   */
  'idempotency_key': (string);
  /**
   * In the currency's minor unit; positive.
   */
  'amount': (number);
  /**
   * ISO 4217, uppercase, one a configured PSP takes.
   */
  'currency': (string);
  /**
   * "automatic" (default when empty) or "manual".
   */
  'capture': (string);
  'card': (_switchyard_v1_Card__Output | null);
  /**
   * Where the shopper returns after a 3-D Secure challenge (https, or http to localhost).
   */
  'return_url'?: (string);
  'reference'?: (string);
  'metadata': ({[key: string]: string});
  '_return_url'?: "return_url";
  '_reference'?: "reference";
}
