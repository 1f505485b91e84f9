// What the gateway needs from the rest of the platform, passed in whole so that tests (and any
// future deployment shape) build it without configuration files or globals.
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Timeline } from "../actors/projections/timeline.ts";
import type { Tolerance } from "../actors/settlement/core/match.ts";
import type { Sql } from "../streams/db/client.ts";
import type { AuditLog } from "../streams/audit-log.ts";
import type { DeadLetters } from "../streams/dead-letters.ts";
import type { Topology } from "../streams/topology.ts";
import type { PaymentView } from "../actors/payment/core/view.ts";
import type { CommandBus } from "../streams/command-bus.ts";
import type { PspConnector } from "../actors/psp/contract.ts";
import type { ProcessedNotifications } from "../streams/processed-notifications.ts";
import type { UnmatchedNotifications } from "../streams/unmatched-notifications.ts";
import type { Logger } from "../config/log.ts";
import type { Metrics } from "../config/metrics.ts";
import type { PspCapabilities } from "../actors/policy/core/schemas.ts";
import type { OpsBoard } from "../streams/ops-board.ts";
import type { ClusterView } from "../streams/cluster-view.ts";
import type { PolicyStore } from "../actors/policy/store.ts";
import type { MerchantKeyStore } from "../streams/merchant-keys.ts";
import type { MerchantAuthenticator } from "./auth.ts";
import type { OperatorAuth } from "./operator-auth.ts";
import type { WebhookEndpointsDeps } from "./routes/webhook-endpoints.ts";
import type { StripeStores } from "./stripe/stores.ts";

export type SettlementDeps = {
  js: JetStreamClient;
  topo: Topology;
  sql: Sql;
  tolerance: Tolerance;
  log: Logger;
  metrics: Metrics;
  /** The home country regions are judged from in the fee-variance report (the routing policy's). */
  homeCountry: () => Promise<string>;
  /** Empty a read model so that its followers rebuild it from its stream. */
  rebuild?: (name: string) => Promise<boolean>;
};

export type OpsPaymentsDeps = {
  sql: Sql;
  bus: Pick<CommandBus, "send">;
  replyWaitMs: number;
  view(paymentId: string): Promise<PaymentView | undefined>;
  timeline(paymentId: string): Promise<Timeline | undefined>;
};

export type PaymentReader = { get(paymentId: string): Promise<PaymentView | undefined> };

export type ReadinessCheck = { name: string; check: () => Promise<void> };

/** What the operator API (/ops/*) needs. */
export type OpsDeps = {
  store: PolicyStore;
  board: Pick<OpsBoard, "read">;
  /** What each configured PSP can take: policies are validated against it. */
  capabilities: ReadonlyMap<string, PspCapabilities>;
  auth: OperatorAuth;
  /** PAY_DLQ: listed and redriven over /ops/dead-letters. */
  deadLetters?: DeadLetters;
  /** The append-only audit trail of operator actions (AUDIT stream); without it, actions are only logged. */
  auditLog?: AuditLog;
  /** Find, explain and fix payments (search, timeline, stuck, requery, resolve). */
  payments?: OpsPaymentsDeps;
  /** Merchants and their API keys (/ops/merchants); without it those routes are absent. */
  merchants?: Pick<
    MerchantKeyStore,
    "createMerchant" | "getMerchant" | "listMerchants" | "keysOf" | "createKey" | "revokeKey"
  >;
  /** Settlement, reconciliation and the ledger over the read models; without it those routes are absent. */
  settlement?: SettlementDeps;
  /** PSP notifications kept for reconciliation (/ops/notifications); without it that route is absent. */
  notifications?: Pick<UnmatchedNotifications, "list">;
  /** The workers' member and partition-lease entries (/ops/cluster); without it that route is absent. */
  cluster?: Pick<ClusterView, "read">;
};

export type GatewayDeps = {
  bus: Pick<CommandBus, "send">;
  payments: PaymentReader;
  auth: MerchantAuthenticator;
  /** AES-256-GCM key for sealing cards; the fingerprint keys are derived from it. */
  cardKey: Buffer;
  /** Root of the request and card fingerprints (default: cardKey); stays put when the card key rotates. */
  fingerprintKey?: Buffer;
  /** How long a request waits for the actor's reply before answering 202. */
  replyWaitMs: number;
  readiness: ReadinessCheck[];
  metrics: Metrics;
  log: Logger;
  /** Default 64 KiB. */
  bodyLimitBytes?: number;
  /** A request whose body has not arrived in full by then is answered 408. Default 10 s. */
  requestTimeoutMs?: number;
  /** What each configured PSP can take: a currency none of them takes is refused up front. */
  pspCapabilities: ReadonlyMap<string, PspCapabilities>;
  /** The read models (PostgreSQL): GET /v1/payments lists from them; without it that route is absent. */
  readModels?: Sql;
  /** The merchants' webhook endpoints (/v1/webhook_endpoints); without it those routes are absent. */
  webhookEndpoints?: WebhookEndpointsDeps;
  /** The operator API; without it no /ops route exists. */
  ops?: OpsDeps;
  /** The door for PSP notifications (POST /webhooks/psp/:psp); without it that route is absent. */
  pspNotifications?: PspNotificationDeps;
  /** The Stripe-compatible layer's buckets (gateway/stripe/); without them that layer is absent. */
  stripe?: StripeStores;
};

export type PspNotificationDeps = {
  /** By PSP name; each verifies its own notifications (parseNotification). */
  connectors: ReadonlyMap<string, Pick<PspConnector, "parseNotification">>;
  bus: Pick<CommandBus, "sendDeduplicated" | "send">;
  /** Where a notification no payment can take is kept for reconciliation. */
  unmatched: Pick<UnmatchedNotifications, "keep">;
  /** How long the door waits for the payment to take a notification before acknowledging anyway. */
  replyWaitMs: number;
  /** The ids of notifications taken, remembered for 30 days (streams/processed-notifications.ts). */
  processed: Pick<ProcessedNotifications, "seen" | "remember">;
  /** PSPs without a configured secret: their doors answer 503 and /readyz lists them. */
  closed: readonly string[];
  /** Per PSP, the `user:password` its requests must carry as HTTP basic auth (a second factor). */
  basicAuth?: Partial<Record<string, string>>;
};
