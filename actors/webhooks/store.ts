// The dispatcher's and sender's SQL over webhook_events / webhook_deliveries (migration 006) and the
// columns of webhook_endpoints they read or keep (failing_since, disabled). One statement per table
// per batch on ingest; one claim statement per sender round; one update per attempt.
import { randomBytesPooled } from "../../config/random.ts";
import { rowsParam, type Sql, type Tx } from "../../streams/db/client.ts";
import type { CatalogEntry } from "./core/catalog.ts";
import { subscribes } from "./core/event-types.ts";

export const RESPONSE_EXCERPT_BYTES = 1024;

/** A merchant event ready to store, with where it sits in PAY_EVT. */
export type StoredEntry = CatalogEntry & { seq: number; appendedAt: Date; traceparent: string | null };

export type Attempt = {
  at: string;
  status: number | null;
  error: string | null;
  latency_ms: number;
  response: string | null;
};

export function deliveryId(): string {
  return `whd_${randomBytesPooled(12).toString("base64url")}`;
}

type EndpointRow = { id: string; merchant_id: string; enabled_events: string[] };

/**
 * Store a batch's merchant events and their deliveries to the merchants' enabled endpoints, in the
 * caller's transaction. Idempotent: an event or a (event, endpoint) delivery stored before is kept.
 */
export async function ingest(tx: Tx, entries: readonly StoredEntry[], now: Date): Promise<number> {
  if (entries.length === 0) return 0;
  const merchants = [...new Set(entries.map((e) => e.merchantId))];
  const endpoints = await tx<EndpointRow[]>`
    select id, merchant_id, enabled_events from webhook_endpoints
    where merchant_id = any(${merchants}) and not disabled`;
  const events = entries.map((e) => ({
    id: e.event.id,
    merchant_id: e.merchantId,
    payment_id: e.paymentId,
    type: e.event.type,
    created: e.event.created,
    seq: e.seq,
    idx: e.idx,
    appended_at: e.appendedAt,
    body: e.event,
  }));
  const deliveries = entries.flatMap((e) =>
    endpoints
      .filter((ep) => ep.merchant_id === e.merchantId && subscribes(ep.enabled_events, e.event.type))
      .map((ep) => ({
        id: deliveryId(),
        event_id: e.event.id,
        endpoint_id: ep.id,
        merchant_id: e.merchantId,
        payment_id: e.paymentId,
        seq: e.seq,
        idx: e.idx,
        origin: "stream",
        next_attempt_at: now,
        traceparent: e.traceparent,
      })),
  );
  // The events and their deliveries sent together (pipelined, executed in order: a delivery's event is
  // stored before it): one round trip, not two.
  const storing =
    tx`insert into webhook_events (id, merchant_id, payment_id, type, created, seq, idx, appended_at, body)
    select * from jsonb_to_recordset(${rowsParam(tx, events)}) as r(id text, merchant_id text,
      payment_id text, type text, created timestamptz, seq bigint, idx int, appended_at timestamptz,
      body jsonb)
    on conflict (id) do nothing`.execute();
  await Promise.all([
    storing,
    deliveries.length > 0
      ? tx`insert into webhook_deliveries (id, event_id, endpoint_id, merchant_id, payment_id, seq, idx,
          origin, next_attempt_at, traceparent)
        select * from jsonb_to_recordset(${rowsParam(tx, deliveries)}) as r(id text, event_id text,
          endpoint_id text, merchant_id text, payment_id text, seq bigint, idx int, origin text,
          next_attempt_at timestamptz, traceparent text)
        on conflict (event_id, endpoint_id) where origin = 'stream' do nothing`.execute()
      : undefined,
  ]);
  return deliveries.length;
}

/** A delivery claimed for one attempt, with what sending it needs. */
export type Claimed = {
  /** The endpoint's id and secrets, as actors/webhooks/endpoints.ts signingSecrets reads them. */
  id: string;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: Date | null;
  delivery_id: string;
  event_id: string;
  endpoint_id: string;
  merchant_id: string;
  payment_id: string;
  origin: string;
  attempts: number;
  traceparent: string | null;
  /** The event as JSON text, sent as it is (jsonb's text form: no parse and stringify per attempt). */
  body: string;
  appended_at: Date;
  url: string;
  failing_since: Date | null;
  /** standard or stripe (actors/webhooks/sender.ts signs and shapes each its way). */
  format: string;
};

/**
 * Claim up to `limit` due deliveries for `leaseMs` (FOR UPDATE SKIP LOCKED: concurrent senders take
 * different rows), each only when no earlier delivery of the same endpoint and payment is still
 * pending (in order per payment per endpoint). The dispatcher stores frames in stream order with its
 * position, so every earlier delivery of a payment is stored before a later one can be claimed.
 */
export async function claimDue(
  sql: Sql | Tx,
  o: { limit: number; now: Date; leaseMs: number },
): Promise<Claimed[]> {
  const leasedUntil = new Date(o.now.getTime() + o.leaseMs);
  return sql<Claimed[]>`
    with due as (
      select d.id from webhook_deliveries d
      join webhook_endpoints e on e.id = d.endpoint_id and not e.disabled
      cross join lateral (select p.seq, p.idx from webhook_deliveries p
        where p.endpoint_id = d.endpoint_id and p.payment_id = d.payment_id and p.status = 'pending'
        order by p.seq, p.idx limit 1) first
      where d.status = 'pending' and d.next_attempt_at <= ${o.now}
        and (d.leased_until is null or d.leased_until < ${o.now})
        and (first.seq, first.idx) = (d.seq, d.idx)
      order by d.next_attempt_at, d.seq, d.idx
      limit ${o.limit}
      for update of d skip locked
    )
    update webhook_deliveries w set leased_until = ${leasedUntil}
    from due, webhook_events ev, webhook_endpoints e
    where w.id = due.id and ev.id = w.event_id and e.id = w.endpoint_id
    returning w.id as delivery_id, w.event_id, w.endpoint_id, w.merchant_id, w.payment_id, w.origin,
      w.attempts, w.traceparent, ev.body::text as body, ev.appended_at, e.id, e.url, e.secret_sealed,
      e.previous_secret_sealed, e.previous_secret_expires_at, e.failing_since, e.format`;
}

/** Successful attempts, in one statement; the endpoints that were failing are failing no more. */
export async function recordSuccesses(
  sql: Sql | Tx,
  done: ReadonlyArray<{ c: Claimed; attempt: Attempt }>,
): Promise<void> {
  if (done.length === 0) return;
  const rows = done.map((d) => ({ id: d.c.delivery_id, at: d.attempt.at, entry: [d.attempt] }));
  // `d.id = any(ids)` as well as the join: the planner takes a JSON parameter's rows for 100
  // whatever it holds, and for a batch of a few it judged a hash join over a scan of the whole table
  // cheaper than as many lookups by key (a table of 5,000–100,000 deliveries read per batch); the
  // array's length it knows (test/int/db-plan-cache.int.spec.ts).
  await sql`update webhook_deliveries d set status = 'succeeded', attempts = d.attempts + 1,
      last_attempt_at = v.at, leased_until = null, attempt_log = d.attempt_log || v.entry
    from jsonb_to_recordset(${rowsParam(sql, rows)}) as v(id text, at timestamptz, entry jsonb)
    where d.id = any(${rows.map((r) => r.id)}) and d.id = v.id`;
  const recovered = [...new Set(done.filter((d) => d.c.failing_since !== null).map((d) => d.c.endpoint_id))];
  if (recovered.length > 0)
    await sql`update webhook_endpoints set failing_since = null where id = any(${recovered})`;
}

/**
 * A failed attempt: retried at `nextAt`, or dead when there is none. The endpoint's failing_since is
 * set on its first failure; past `disableAfterMs` of failing the endpoint is disabled, saying why.
 * Returns whether this call disabled it (for the one log line), and since when it fails.
 */
export async function recordFailure(
  sql: Sql,
  c: Claimed,
  attempt: Attempt,
  o: { nextAt: Date | undefined; now: Date; disableAfterMs: number },
): Promise<{ disabled: boolean; failingSince: Date }> {
  await sql`update webhook_deliveries set attempts = attempts + 1, last_attempt_at = ${attempt.at},
      leased_until = null, attempt_log = attempt_log || ${sql.json([attempt])},
      status = ${o.nextAt === undefined ? "dead" : "pending"},
      next_attempt_at = ${o.nextAt ?? o.now}
    where id = ${c.delivery_id}`;
  const [ep] = await sql<{ failing_since: Date }[]>`
    update webhook_endpoints set failing_since = coalesce(failing_since, ${o.now})
    where id = ${c.endpoint_id} returning failing_since`;
  const failingSince = ep?.failing_since ?? o.now;
  if (o.now.getTime() - failingSince.getTime() < o.disableAfterMs) return { disabled: false, failingSince };
  const reason =
    `disabled automatically: every delivery failed since ${failingSince.toISOString()}` +
    ` (last: ${attempt.status !== null ? `HTTP ${attempt.status}` : (attempt.error ?? "error")})`;
  const disabled = await sql`update webhook_endpoints
    set disabled = true, disabled_reason = ${reason}, updated_at = ${o.now}
    where id = ${c.endpoint_id} and not disabled returning id`;
  return { disabled: disabled.length > 0, failingSince };
}

/** Each endpoint's failing state as the database has it (not disabled, failing_since set). */
export async function failingStates(sql: Sql): Promise<Array<{ id: string; failing: boolean }>> {
  return sql<{ id: string; failing: boolean }[]>`
    select id, (failing_since is not null and not disabled) as failing from webhook_endpoints`;
}
