// Original file: gateway/grpc/switchyard/v1/payments.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CancelPaymentRequest as _switchyard_v1_CancelPaymentRequest, CancelPaymentRequest__Output as _switchyard_v1_CancelPaymentRequest__Output } from '../../switchyard/v1/CancelPaymentRequest.ts';
import type { CapturePaymentRequest as _switchyard_v1_CapturePaymentRequest, CapturePaymentRequest__Output as _switchyard_v1_CapturePaymentRequest__Output } from '../../switchyard/v1/CapturePaymentRequest.ts';
import type { CreatePaymentRequest as _switchyard_v1_CreatePaymentRequest, CreatePaymentRequest__Output as _switchyard_v1_CreatePaymentRequest__Output } from '../../switchyard/v1/CreatePaymentRequest.ts';
import type { GetPaymentRequest as _switchyard_v1_GetPaymentRequest, GetPaymentRequest__Output as _switchyard_v1_GetPaymentRequest__Output } from '../../switchyard/v1/GetPaymentRequest.ts';
import type { Payment as _switchyard_v1_Payment, Payment__Output as _switchyard_v1_Payment__Output } from '../../switchyard/v1/Payment.ts';
import type { PaymentResult as _switchyard_v1_PaymentResult, PaymentResult__Output as _switchyard_v1_PaymentResult__Output } from '../../switchyard/v1/PaymentResult.ts';
import type { PaymentUpdate as _switchyard_v1_PaymentUpdate, PaymentUpdate__Output as _switchyard_v1_PaymentUpdate__Output } from '../../switchyard/v1/PaymentUpdate.ts';
import type { RefundPaymentRequest as _switchyard_v1_RefundPaymentRequest, RefundPaymentRequest__Output as _switchyard_v1_RefundPaymentRequest__Output } from '../../switchyard/v1/RefundPaymentRequest.ts';
import type { WatchPaymentRequest as _switchyard_v1_WatchPaymentRequest, WatchPaymentRequest__Output as _switchyard_v1_WatchPaymentRequest__Output } from '../../switchyard/v1/WatchPaymentRequest.ts';

export interface PaymentsClient extends grpc.Client {
  /**
   * Voids the authorization of an uncaptured payment.
   */
  CancelPayment(argument: _switchyard_v1_CancelPaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  CancelPayment(argument: _switchyard_v1_CancelPaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  CancelPayment(argument: _switchyard_v1_CancelPaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  CancelPayment(argument: _switchyard_v1_CancelPaymentRequest, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  /**
   * Voids the authorization of an uncaptured payment.
   */
  cancelPayment(argument: _switchyard_v1_CancelPaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  cancelPayment(argument: _switchyard_v1_CancelPaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  cancelPayment(argument: _switchyard_v1_CancelPaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  cancelPayment(argument: _switchyard_v1_CancelPaymentRequest, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  
  /**
   * Captures `amount` of an authorized payment (default: all of it).
   */
  CapturePayment(argument: _switchyard_v1_CapturePaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  CapturePayment(argument: _switchyard_v1_CapturePaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  CapturePayment(argument: _switchyard_v1_CapturePaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  CapturePayment(argument: _switchyard_v1_CapturePaymentRequest, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  /**
   * Captures `amount` of an authorized payment (default: all of it).
   */
  capturePayment(argument: _switchyard_v1_CapturePaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  capturePayment(argument: _switchyard_v1_CapturePaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  capturePayment(argument: _switchyard_v1_CapturePaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  capturePayment(argument: _switchyard_v1_CapturePaymentRequest, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  
  /**
   * Authorizes (and with capture "automatic" captures) a card payment. The same idempotency_key and
   * request yield the same payment; another request under that key is ALREADY_EXISTS
   * (idempotency_key_reused). A decline is a payment with status "declined", not an error.
   */
  CreatePayment(argument: _switchyard_v1_CreatePaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  CreatePayment(argument: _switchyard_v1_CreatePaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  CreatePayment(argument: _switchyard_v1_CreatePaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  CreatePayment(argument: _switchyard_v1_CreatePaymentRequest, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  /**
   * Authorizes (and with capture "automatic" captures) a card payment. The same idempotency_key and
   * request yield the same payment; another request under that key is ALREADY_EXISTS
   * (idempotency_key_reused). A decline is a payment with status "declined", not an error.
   */
  createPayment(argument: _switchyard_v1_CreatePaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  createPayment(argument: _switchyard_v1_CreatePaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  createPayment(argument: _switchyard_v1_CreatePaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  createPayment(argument: _switchyard_v1_CreatePaymentRequest, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  
  /**
   * The payment, if it is the caller's; NOT_FOUND otherwise (another merchant's included).
   */
  GetPayment(argument: _switchyard_v1_GetPaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_Payment__Output>): grpc.ClientUnaryCall;
  GetPayment(argument: _switchyard_v1_GetPaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchyard_v1_Payment__Output>): grpc.ClientUnaryCall;
  GetPayment(argument: _switchyard_v1_GetPaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_Payment__Output>): grpc.ClientUnaryCall;
  GetPayment(argument: _switchyard_v1_GetPaymentRequest, callback: grpc.requestCallback<_switchyard_v1_Payment__Output>): grpc.ClientUnaryCall;
  /**
   * The payment, if it is the caller's; NOT_FOUND otherwise (another merchant's included).
   */
  getPayment(argument: _switchyard_v1_GetPaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_Payment__Output>): grpc.ClientUnaryCall;
  getPayment(argument: _switchyard_v1_GetPaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchyard_v1_Payment__Output>): grpc.ClientUnaryCall;
  getPayment(argument: _switchyard_v1_GetPaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_Payment__Output>): grpc.ClientUnaryCall;
  getPayment(argument: _switchyard_v1_GetPaymentRequest, callback: grpc.requestCallback<_switchyard_v1_Payment__Output>): grpc.ClientUnaryCall;
  
  /**
   * Refunds `amount` of a captured payment (default: what remains).
   */
  RefundPayment(argument: _switchyard_v1_RefundPaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  RefundPayment(argument: _switchyard_v1_RefundPaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  RefundPayment(argument: _switchyard_v1_RefundPaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  RefundPayment(argument: _switchyard_v1_RefundPaymentRequest, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  /**
   * Refunds `amount` of a captured payment (default: what remains).
   */
  refundPayment(argument: _switchyard_v1_RefundPaymentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  refundPayment(argument: _switchyard_v1_RefundPaymentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  refundPayment(argument: _switchyard_v1_RefundPaymentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  refundPayment(argument: _switchyard_v1_RefundPaymentRequest, callback: grpc.requestCallback<_switchyard_v1_PaymentResult__Output>): grpc.ClientUnaryCall;
  
  /**
   * The payment now, then once per change of its status or amounts, as it happens; ends after a
   * final status (declined, failed, canceled, refunded, expired) or when the client cancels.
   */
  WatchPayment(argument: _switchyard_v1_WatchPaymentRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchyard_v1_PaymentUpdate__Output>;
  WatchPayment(argument: _switchyard_v1_WatchPaymentRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchyard_v1_PaymentUpdate__Output>;
  /**
   * The payment now, then once per change of its status or amounts, as it happens; ends after a
   * final status (declined, failed, canceled, refunded, expired) or when the client cancels.
   */
  watchPayment(argument: _switchyard_v1_WatchPaymentRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchyard_v1_PaymentUpdate__Output>;
  watchPayment(argument: _switchyard_v1_WatchPaymentRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_switchyard_v1_PaymentUpdate__Output>;
  
}

export interface PaymentsHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Voids the authorization of an uncaptured payment.
   */
  CancelPayment: grpc.handleUnaryCall<_switchyard_v1_CancelPaymentRequest__Output, _switchyard_v1_PaymentResult>;
  
  /**
   * Captures `amount` of an authorized payment (default: all of it).
   */
  CapturePayment: grpc.handleUnaryCall<_switchyard_v1_CapturePaymentRequest__Output, _switchyard_v1_PaymentResult>;
  
  /**
   * Authorizes (and with capture "automatic" captures) a card payment. The same idempotency_key and
   * request yield the same payment; another request under that key is ALREADY_EXISTS
   * (idempotency_key_reused). A decline is a payment with status "declined", not an error.
   */
  CreatePayment: grpc.handleUnaryCall<_switchyard_v1_CreatePaymentRequest__Output, _switchyard_v1_PaymentResult>;
  
  /**
   * The payment, if it is the caller's; NOT_FOUND otherwise (another merchant's included).
   */
  GetPayment: grpc.handleUnaryCall<_switchyard_v1_GetPaymentRequest__Output, _switchyard_v1_Payment>;
  
  /**
   * Refunds `amount` of a captured payment (default: what remains).
   */
  RefundPayment: grpc.handleUnaryCall<_switchyard_v1_RefundPaymentRequest__Output, _switchyard_v1_PaymentResult>;
  
  /**
   * The payment now, then once per change of its status or amounts, as it happens; ends after a
   * final status (declined, failed, canceled, refunded, expired) or when the client cancels.
   */
  WatchPayment: grpc.handleServerStreamingCall<_switchyard_v1_WatchPaymentRequest__Output, _switchyard_v1_PaymentUpdate>;
  
}

export interface PaymentsDefinition extends grpc.ServiceDefinition {
  CancelPayment: MethodDefinition<_switchyard_v1_CancelPaymentRequest, _switchyard_v1_PaymentResult, _switchyard_v1_CancelPaymentRequest__Output, _switchyard_v1_PaymentResult__Output>
  CapturePayment: MethodDefinition<_switchyard_v1_CapturePaymentRequest, _switchyard_v1_PaymentResult, _switchyard_v1_CapturePaymentRequest__Output, _switchyard_v1_PaymentResult__Output>
  CreatePayment: MethodDefinition<_switchyard_v1_CreatePaymentRequest, _switchyard_v1_PaymentResult, _switchyard_v1_CreatePaymentRequest__Output, _switchyard_v1_PaymentResult__Output>
  GetPayment: MethodDefinition<_switchyard_v1_GetPaymentRequest, _switchyard_v1_Payment, _switchyard_v1_GetPaymentRequest__Output, _switchyard_v1_Payment__Output>
  RefundPayment: MethodDefinition<_switchyard_v1_RefundPaymentRequest, _switchyard_v1_PaymentResult, _switchyard_v1_RefundPaymentRequest__Output, _switchyard_v1_PaymentResult__Output>
  WatchPayment: MethodDefinition<_switchyard_v1_WatchPaymentRequest, _switchyard_v1_PaymentUpdate, _switchyard_v1_WatchPaymentRequest__Output, _switchyard_v1_PaymentUpdate__Output>
}
