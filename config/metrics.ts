// Every Prometheus metric of the platform, on one registry per process (so several platforms in
// one test process never collide). Names carry the `switchyard_` prefix.
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type MetricObjectWithValues,
  type MetricValue,
} from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

/** A registry's series as prom-client hands them between registries (getMetricsAsJSON). */
export type MetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>;

/** The event-loop lag's sampling interval (see below). */
export const EVENT_LOOP_SAMPLE_MS = 100;

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics) {
    // The event-loop lag histogram samples with a libuv timer at this resolution: prom-client's
    // default of 10 ms wakes an idle process 100 times a second, ~3.4 ms of CPU per second on this
    // machine (a bare `monitorEventLoopDelay` measured alone; 0.4 ms at 100 ms). Ten samples a
    // second still give the lag percentiles over a 15 s scrape (150 samples), and a stall of the
    // loop shows in full: a sample measures how late its timer fired, whatever the resolution.
    collectDefaultMetrics({
      register: registry,
      prefix: "switchyard_",
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
    });
    // prom-client exports these totals as gauges named *_total, which Prometheus reserves for
    // counters (promtool check metrics fails on them). The per-type gauges beside them
    // (nodejs_active_handles{type}, …) sum to the same numbers.
    for (const kind of ["handles", "requests", "resources"])
      registry.removeSingleMetric(`switchyard_nodejs_active_${kind}_total`);
  }
  const registers = [registry];
  const sources = new Set<() => Promise<MetricsJson>>();
  return {
    registry,
    /**
     * Series kept elsewhere in this process (the projections thread's registry:
     * actors/projections-thread.ts) served with this registry's by `render`; the function returned
     * removes the source.
     */
    addSource(source: () => Promise<MetricsJson>): () => void {
      sources.add(source);
      return () => sources.delete(source);
    },
    /**
     * What /metrics serves: this registry, merged with its sources when it has any. Series of the
     * same name and labels are added up, as the registries count disjoint work (prom-client's
     * aggregation with every metric's aggregator set to `sum`: its own per-metric choices are for
     * cluster workers all reporting the same process metrics — `omit` would drop the start time; a
     * source registers no default metrics, so a series of one registry alone passes unchanged).
     */
    async render(): Promise<string> {
      if (sources.size === 0) return registry.metrics();
      const parts = await Promise.all([
        registry.getMetricsAsJSON(),
        ...[...sources].map((source) => source().catch((): MetricsJson => [])),
      ]);
      return AggregatorRegistry.aggregate(
        parts.map((part) => part.map((metric) => ({ ...metric, aggregator: "sum" as const }))),
      ).metrics();
    },
    httpDuration: new Histogram({
      name: "switchyard_http_request_duration_seconds",
      help: "HTTP request duration by route and status",
      labelNames: ["method", "route", "status"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    commandDuration: new Histogram({
      name: "switchyard_command_duration_seconds",
      help: "Time an actor spends handling one command, by command type and result",
      labelNames: ["type", "result"] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    pspDuration: new Histogram({
      name: "switchyard_psp_request_duration_seconds",
      help: "PSP call duration by psp, operation and normalized outcome",
      labelNames: ["psp", "operation", "outcome"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    paymentsTerminal: new Counter({
      name: "switchyard_payments_total",
      help: "Payments reaching a resting status (authorized, captured, declined, failed, ...), by status",
      labelNames: ["status"] as const,
      registers,
    }),
    liveActors: new Gauge({
      name: "switchyard_live_actors",
      help: "Payment actors currently in memory",
      registers,
    }),
    consumerPending: new Gauge({
      name: "switchyard_consumer_pending_messages",
      help: "Commands waiting in each partition's consumer (not yet delivered)",
      labelNames: ["partition"] as const,
      registers,
    }),
    consumerAckPending: new Gauge({
      name: "switchyard_consumer_ack_pending_messages",
      help: "Commands delivered to this partition's workers and not yet acknowledged",
      labelNames: ["partition"] as const,
      registers,
    }),
    fenceConflicts: new Counter({
      name: "switchyard_event_fence_conflicts_total",
      help: "Appends refused by the expected-last-subject-sequence fence (another writer was first)",
      registers,
    }),
    appendNoLeaderWaits: new Counter({
      name: "switchyard_event_append_no_leader_waits_total",
      help: "Appends that found no JetStream server answering for the event stream (a leader election) and waited in the process for one: stored after the wait, or given up to the command's redelivery",
      labelNames: ["outcome"] as const,
      registers,
    }),
    // Partition ownership (actors/ownership.ts).
    partitionsOwned: new Gauge({
      name: "switchyard_partitions_owned",
      help: "PAY_CMD partitions this worker holds by lease right now",
      labelNames: ["worker"] as const,
      registers,
    }),
    partitionsConfigured: new Gauge({
      name: "switchyard_partitions_configured",
      help: "PAY_CMD partitions the topology has (every one should have an owner)",
      registers,
    }),
    rebalances: new Counter({
      name: "switchyard_rebalances_total",
      help: "Times this worker's set of owned partitions changed (gained or lost partitions)",
      registers,
    }),
    leaseLost: new Counter({
      name: "switchyard_lease_lost_total",
      help: "Partition leases this worker lost without giving them up, by reason (expired: not renewed within the TTL by its own clock, e.g. paused; refused: the renewal found the lease taken or gone)",
      labelNames: ["reason"] as const,
      registers,
    }),
    snapshotFailures: new Counter({
      name: "switchyard_snapshot_failures_total",
      help: "Redis snapshot reads or writes that failed (the platform falls back to replay)",
      labelNames: ["op"] as const,
      registers,
    }),
    commandsRejectedUndecodable: new Counter({
      name: "switchyard_commands_undecodable_total",
      help: "PAY_CMD messages that were not a valid command envelope (dead-lettered, logged)",
      registers,
    }),
    commandsRefused: new Counter({
      name: "switchyard_commands_refused_total",
      help: "PAY_CMD messages the worker refused before any actor saw them (typed error to the sender, dead letter), by reason (undecodable, unsupported_version, merchant_mismatch, subject_mismatch, foreign_payment, card_token_invalid, card_token_expired, card_number_in_command, invalid_text, duplicate_key)",
      labelNames: ["reason"] as const,
      registers,
    }),
    cardTokensIssued: new Counter({
      name: "switchyard_card_tokens_issued_total",
      help: "Card tokens issued by POST /v1/card-tokens",
      registers,
    }),
    commandRepliesRefused: new Counter({
      name: "switchyard_command_replies_refused_total",
      help: "Replies a worker did not send because the command's Sy-Reply-To was outside the sender's inbox (the command was still handled)",
      registers,
    }),
    inputsRefused: new Counter({
      name: "switchyard_inputs_refused_total",
      help: "Inputs refused at an edge before anything was stored, by edge (http, nats) and code (nul_character, lone_surrogate, too_deep, card_number, duplicate_key, not_utf8, bad_percent_encoding)",
      labelNames: ["edge", "code"] as const,
      registers,
    }),
    auditWriteFailures: new Counter({
      name: "switchyard_audit_write_failures_total",
      help: "Audit records the AUDIT stream did not take (part=stream: the operator's change was refused) or whose GET /ops/audit row was not written (part=read_model)",
      labelNames: ["part"] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: "switchyard_dead_letters_total",
      help: "Commands moved to the dead-letter stream, by reason (as GET /ops/dead-letters lists them: undecodable, duplicate_key, retries_exhausted…)",
      labelNames: ["reason"] as const,
      registers,
    }),
    settlementLines: new Counter({
      name: "switchyard_settlement_lines_total",
      help: "Settlement report lines ingested, by PSP and reconciliation outcome (matched, booked, an exception kind, rejected)",
      labelNames: ["psp", "outcome"] as const,
      registers,
    }),
    settlementReports: new Counter({
      name: "switchyard_settlement_reports_total",
      help: "Settlement reports taken in, by PSP, source (pull, upload) and result (ingested, replayed, conflict, failed, refused)",
      labelNames: ["psp", "source", "result"] as const,
      registers,
    }),
    reconExceptionsOpen: new Gauge({
      name: "switchyard_recon_exceptions_open",
      help: "Open reconciliation exceptions, by kind (as last counted from the read model)",
      labelNames: ["kind"] as const,
      registers,
    }),
    readModelLag: new Gauge({
      name: "switchyard_read_model_lag_seconds",
      help: "Age of the oldest stream message a read model has not applied yet (0 when it is at the stream's head), by read model",
      labelNames: ["read_model"] as const,
      registers,
    }),
    readModelBehind: new Gauge({
      name: "switchyard_read_model_behind_messages",
      help: "Stream messages past a read model's position (the stream's last sequence minus it), by read model",
      labelNames: ["read_model"] as const,
      registers,
    }),
    streamReaderStalls: new Counter({
      name: "switchyard_stream_reader_stalls_total",
      help: "Times a reader of a stream (the process's tap of PAY_EVT, a follower's own) handed out nothing for 10 s while the stream held more, and was replaced by a new consumer, by stream",
      labelNames: ["stream"] as const,
      registers,
    }),
    followerSetAside: new Counter({
      name: "switchyard_follower_frames_set_aside_total",
      help: "Stream frames a follower could not apply and set aside to go on (GET /ops/read-models/set-aside), by follower",
      labelNames: ["follower"] as const,
      registers,
    }),
    janitorRedrives: new Counter({
      name: "switchyard_janitor_redrives_total",
      help: "Payments the janitor found unresolved past its threshold and re-drove (status query first)",
      registers,
    }),
    paymentsExpired: new Counter({
      name: "switchyard_payments_expired_total",
      help: "Payments whose abandoned 3-D Secure challenge the expiry sweep expired (their charge voided)",
      registers,
    }),
    janitorStuck: new Gauge({
      name: "switchyard_janitor_unresolved_payments",
      help: "Payments the janitor has seen unresolved past its threshold at its last pass, on this worker",
      registers,
    }),
    // PSP health (actors/psp/health.ts). Circuit state as a number: 0 closed, 1 half_open, 2 open.
    pspSuccessRate: new Gauge({
      name: "switchyard_psp_success_rate",
      help: "Authorized (or requires_action) share of the PSP's recent authorization outcomes (rolling window)",
      labelNames: ["psp"] as const,
      registers,
    }),
    pspCircuitState: new Gauge({
      name: "switchyard_psp_circuit_state",
      help: "The PSP's circuit breaker state: 0 closed, 1 half_open, 2 open",
      labelNames: ["psp"] as const,
      registers,
    }),
    pspCircuitTransitions: new Counter({
      name: "switchyard_psp_circuit_transitions_total",
      help: "Circuit breaker transitions by PSP and the state entered",
      labelNames: ["psp", "to"] as const,
      registers,
    }),
    pspLatency: new Histogram({
      name: "switchyard_psp_latency_seconds",
      help: "Authorization latency per PSP as the circuit breaker sees it (calls actually sent)",
      labelNames: ["psp"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    pspForcedOut: new Gauge({
      name: "switchyard_psp_forced_out",
      help: "1 while an operator has forced the PSP out of rotation, else 0",
      labelNames: ["psp"] as const,
      registers,
    }),
    // Routing and retries (actors/policy, actors/payment).
    routingDecisions: new Counter({
      name: "switchyard_routing_decisions_total",
      help: "Routing decisions by strategy and rule (rule id, or fallback)",
      labelNames: ["strategy", "rule"] as const,
      registers,
    }),
    shadowDecisions: new Counter({
      name: "switchyard_shadow_decisions_total",
      help: "Shadow routing evaluations by shadow version and divergence (none, psp, fee, psp_and_fee)",
      labelNames: ["version", "diverged"] as const,
      registers,
    }),
    pspNotifications: new Counter({
      name: "switchyard_psp_notifications_total",
      help: "PSP notifications at the door by psp and outcome (accepted, duplicate, unmatched, bad_signature, stale, malformed, not_configured, unauthorized)",
      labelNames: ["psp", "outcome"] as const,
      registers,
    }),
    attempts: new Counter({
      name: "switchyard_attempts_total",
      help: "Authorization attempts by PSP and outcome class",
      labelNames: ["psp", "class"] as const,
      registers,
    }),
    stepUps: new Counter({
      name: "switchyard_three_ds_step_ups_total",
      help: "3-D Secure step-ups: attempts that ask the PSP to authenticate the shopper after an authentication_required decline",
      labelNames: ["psp"] as const,
      registers,
    }),
    unresolvedEffects: new Gauge({
      name: "switchyard_unresolved_psp_effects",
      help: "Payments whose PSP outcome is unknown or whose PSP is unreachable, waiting for a retry",
      registers,
    }),
    // Outgoing merchant webhooks (actors/webhooks).
    webhookDeliveries: new Counter({
      name: "switchyard_webhook_deliveries_total",
      help: "Webhook delivery attempts by outcome: succeeded (2xx), failed (retried later), dead (the last try failed)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    webhookAttemptsStarted: new Counter({
      name: "switchyard_webhook_attempts_started_total",
      help: "Webhook delivery attempts started, by how the sender got the delivery: handed (leased to it when the dispatcher stored it) or claimed (a retry, a redelivery, one held back behind a pending one, or no room when stored)",
      labelNames: ["via"] as const,
      registers,
    }),
    webhookDeliveryLag: new Histogram({
      name: "switchyard_webhook_delivery_lag_seconds",
      help: "From the payment event's append to PAY_EVT to the merchant endpoint's 2xx (first deliveries)",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers,
    }),
    webhookEndpointFailing: new Gauge({
      name: "switchyard_webhook_endpoint_failing",
      help: "1 while a merchant webhook endpoint (by id) fails its deliveries, 0 after a success",
      labelNames: ["endpoint"] as const,
      registers,
    }),
    // The merchant events feed for internal systems (PAY_OUT, actors/webhooks/merchant-feed.ts).
    merchantFeed: new Counter({
      name: "switchyard_merchant_feed_events_total",
      help: "Merchant events published to PAY_OUT (published), and publish rounds that failed and are retried (failed)",
      labelNames: ["result"] as const,
      registers,
    }),
    merchantFeedLag: new Gauge({
      name: "switchyard_merchant_feed_lag_seconds",
      help: "Age of the oldest merchant event not yet on PAY_OUT when the feed last looked (0: none waiting)",
      registers,
    }),
    // Where no autovacuum runs (PGlite, a server with it off): streams/db/upkeep.ts.
    dbUpkeep: new Counter({
      name: "switchyard_db_upkeep_total",
      help: "Tables the platform vacuumed or analyzed itself because no autovacuum runs on its database, by table and action",
      labelNames: ["table", "action"] as const,
      registers,
    }),
    // On PGlite the vacuum runs on this process's own thread: after a burst of payments its one pass
    // over the tables the burst changed is the idle process's largest cost (a few hundred ms).
    dbUpkeepSeconds: new Counter({
      name: "switchyard_db_upkeep_seconds_total",
      help: "Time spent in those vacuums and analyzes (on PGlite, this process's own thread), by table and action",
      labelNames: ["table", "action"] as const,
      registers,
    }),
    projectionsThreadRestarts: new Counter({
      name: "switchyard_projections_thread_restarts_total",
      help: "Times the projections thread (SWITCHYARD_PROJECTIONS=thread) ended unasked and was started again",
      registers,
    }),
    // The Stripe-compatible layer (gateway/stripe/).
    stripeRequests: new Counter({
      name: "switchyard_stripe_requests_total",
      help: "Requests to the Stripe-compatible routes, by route pattern (unmatched: Stripe's unrecognized URL) and status",
      labelNames: ["route", "status"] as const,
      registers,
    }),
    stripeIdempotency: new Counter({
      name: "switchyard_stripe_idempotency_total",
      help: "Stripe Idempotency-Key outcomes: first, replayed, mismatch (400), conflict (409), not_kept",
      labelNames: ["outcome"] as const,
      registers,
    }),
  };
}
