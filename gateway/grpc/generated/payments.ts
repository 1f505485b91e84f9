import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Attempt as _switchyard_v1_Attempt, Attempt__Output as _switchyard_v1_Attempt__Output } from './switchyard/v1/Attempt.ts';
import type { CancelPaymentRequest as _switchyard_v1_CancelPaymentRequest, CancelPaymentRequest__Output as _switchyard_v1_CancelPaymentRequest__Output } from './switchyard/v1/CancelPaymentRequest.ts';
import type { CapturePaymentRequest as _switchyard_v1_CapturePaymentRequest, CapturePaymentRequest__Output as _switchyard_v1_CapturePaymentRequest__Output } from './switchyard/v1/CapturePaymentRequest.ts';
import type { Card as _switchyard_v1_Card, Card__Output as _switchyard_v1_Card__Output } from './switchyard/v1/Card.ts';
import type { CreatePaymentRequest as _switchyard_v1_CreatePaymentRequest, CreatePaymentRequest__Output as _switchyard_v1_CreatePaymentRequest__Output } from './switchyard/v1/CreatePaymentRequest.ts';
import type { GetPaymentRequest as _switchyard_v1_GetPaymentRequest, GetPaymentRequest__Output as _switchyard_v1_GetPaymentRequest__Output } from './switchyard/v1/GetPaymentRequest.ts';
import type { Operation as _switchyard_v1_Operation, Operation__Output as _switchyard_v1_Operation__Output } from './switchyard/v1/Operation.ts';
import type { Payment as _switchyard_v1_Payment, Payment__Output as _switchyard_v1_Payment__Output } from './switchyard/v1/Payment.ts';
import type { PaymentCard as _switchyard_v1_PaymentCard, PaymentCard__Output as _switchyard_v1_PaymentCard__Output } from './switchyard/v1/PaymentCard.ts';
import type { PaymentResult as _switchyard_v1_PaymentResult, PaymentResult__Output as _switchyard_v1_PaymentResult__Output } from './switchyard/v1/PaymentResult.ts';
import type { PaymentUpdate as _switchyard_v1_PaymentUpdate, PaymentUpdate__Output as _switchyard_v1_PaymentUpdate__Output } from './switchyard/v1/PaymentUpdate.ts';
import type { PaymentsClient as _switchyard_v1_PaymentsClient, PaymentsDefinition as _switchyard_v1_PaymentsDefinition } from './switchyard/v1/Payments.ts';
import type { RefundPaymentRequest as _switchyard_v1_RefundPaymentRequest, RefundPaymentRequest__Output as _switchyard_v1_RefundPaymentRequest__Output } from './switchyard/v1/RefundPaymentRequest.ts';
import type { WatchPaymentRequest as _switchyard_v1_WatchPaymentRequest, WatchPaymentRequest__Output as _switchyard_v1_WatchPaymentRequest__Output } from './switchyard/v1/WatchPaymentRequest.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  switchyard: {
    v1: {
      Attempt: MessageTypeDefinition<_switchyard_v1_Attempt, _switchyard_v1_Attempt__Output>
      CancelPaymentRequest: MessageTypeDefinition<_switchyard_v1_CancelPaymentRequest, _switchyard_v1_CancelPaymentRequest__Output>
      CapturePaymentRequest: MessageTypeDefinition<_switchyard_v1_CapturePaymentRequest, _switchyard_v1_CapturePaymentRequest__Output>
      Card: MessageTypeDefinition<_switchyard_v1_Card, _switchyard_v1_Card__Output>
      CreatePaymentRequest: MessageTypeDefinition<_switchyard_v1_CreatePaymentRequest, _switchyard_v1_CreatePaymentRequest__Output>
      GetPaymentRequest: MessageTypeDefinition<_switchyard_v1_GetPaymentRequest, _switchyard_v1_GetPaymentRequest__Output>
      Operation: MessageTypeDefinition<_switchyard_v1_Operation, _switchyard_v1_Operation__Output>
      Payment: MessageTypeDefinition<_switchyard_v1_Payment, _switchyard_v1_Payment__Output>
      PaymentCard: MessageTypeDefinition<_switchyard_v1_PaymentCard, _switchyard_v1_PaymentCard__Output>
      PaymentResult: MessageTypeDefinition<_switchyard_v1_PaymentResult, _switchyard_v1_PaymentResult__Output>
      PaymentUpdate: MessageTypeDefinition<_switchyard_v1_PaymentUpdate, _switchyard_v1_PaymentUpdate__Output>
      Payments: SubtypeConstructor<typeof grpc.Client, _switchyard_v1_PaymentsClient> & { service: _switchyard_v1_PaymentsDefinition }
      RefundPaymentRequest: MessageTypeDefinition<_switchyard_v1_RefundPaymentRequest, _switchyard_v1_RefundPaymentRequest__Output>
      WatchPaymentRequest: MessageTypeDefinition<_switchyard_v1_WatchPaymentRequest, _switchyard_v1_WatchPaymentRequest__Output>
    }
  }
}

