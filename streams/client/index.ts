// switchyard/client: the typed client internal systems use to act on payments over NATS
// (docs/nats-client.md). It imports nothing of the platform but the pure payment core (ids, the
// command schemas) and the topology's subject rules, so it can ship alone.
export {
  SwitchyardClient,
  newTraceparent,
  type CallOptions,
  type ClientOptions,
  type CommandResult,
  type EventsOptions,
  type MerchantEvent,
} from "./client.ts";
export { clientFingerprint, type CreatePaymentInput, type FollowUpInput } from "./commands.ts";
export { SwitchyardError, SwitchyardErrorCode } from "./errors.ts";
export type { PaymentView } from "../../actors/payment/core/view.ts";
export type { CardTokenPublic } from "../../actors/payment/core/card-token.ts";
