// The dispatcher's and sender's SQL over webhook_events / webhook_deliveries (migration 006) and the
// columns of webhook_endpoints they read or keep (failing_since, disabled). One statement per table
// per batch on ingest (which also leases the new deliveries handed to this process's sender); one
// claim statement per sender round; one update per attempt, or per batch of successes.
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

type EndpointRow = Omit<Claimed, EndpointLess> & { merchant_id: string; enabled_events: string[] };
/** What a claimed delivery holds that an endpoint's row does not. */
type EndpointLess =
  | "delivery_id"
  | "event_id"
  | "endpoint_id"
  | "merchant_id"
  | "payment_id"
  | "origin"
  | "attempts"
  | "traceparent"
  | "body"
  | "appended_at";

/**
 * Deliveries the caller's process will send itself once the transaction is committed, leased to it
 * at insert: no claim for them (actors/webhooks/sender.ts take). At most `room`, in whole runs of
 * one endpoint and payment; each run in (seq, idx) order, its n-th delivery leased for n leases (it
 * is sent after the ones before it).
 */
export type HandOff = {
  /** Room for up to `max` deliveries, reserved for the caller (the sender's free room, at most). */
  reserve(max: number): number;
  leaseMs: number;
};

/**
 * What ingest stored: deliveries in all; the room it reserved; the deliveries leased to this process,
 * in runs of one endpoint and payment, each in order (as many as the room, or fewer).
 */
export type Ingested = { stored: number; reserved: number; handed: Claimed[][] };

/**
 * Store a batch's merchant events and their deliveries to the merchants' enabled endpoints, in the
 * caller's transaction. Idempotent: an event or a (event, endpoint) delivery stored before is kept.
 *
 * With `handOff`, a run of deliveries of one endpoint and payment is leased at insert when no earlier
 * delivery of that endpoint and payment is pending (the claim's order rule, judged by the statement
 * that inserts them) and it fits the room; each leased delivery comes back with what sending it
 * needs, as a claim returns it. The rest wait for a claim, as without it.
 */
export async function ingest(
  tx: Tx,
  entries: readonly StoredEntry[],
  now: Date,
  handOff?: HandOff,
): Promise<Ingested> {
  if (entries.length === 0) return { stored: 0, reserved: 0, handed: [] };
  const merchants = [...new Set(entries.map((e) => e.merchantId))];
  const endpoints = await tx<EndpointRow[]>`
    select id, merchant_id, enabled_events, url, secret_sealed, previous_secret_sealed,
      previous_secret_expires_at, failing_since, format
    from webhook_endpoints where merchant_id = any(${merchants}) and not disabled`;
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
        leased_until: null as Date | null,
      })),
  );
  const reserved = handOff && deliveries.length > 0 ? handOff.reserve(deliveries.length) : 0;
  if (handOff) leaseRuns(deliveries, now, reserved, handOff.leaseMs);
  // The events of the deliveries offered a lease: their body comes back from the events' insert, as
  // jsonb prints it (the text every later attempt and PAY_OUT send too) — not from a join back to
  // webhook_events, which the plan kept from a small table ran as a scan of every event.
  const offered = [...new Set(deliveries.filter((d) => d.leased_until !== null).map((d) => d.event_id))];
  // The events and their deliveries sent together (pipelined, executed in order: a delivery's event is
  // stored before it): one round trip, not two.
  const storing = tx<Array<{ id: string; body: string | null }>>`
    insert into webhook_events (id, merchant_id, payment_id, type, created, seq, idx, appended_at, body)
    select * from jsonb_to_recordset(${rowsParam(tx, events)}) as r(id text, merchant_id text,
      payment_id text, type text, created timestamptz, seq bigint, idx int, appended_at timestamptz,
      body jsonb)
    on conflict (id) do nothing
    returning id, case when id = any(${offered}) then body::text end as body`.execute();
  // A delivery offered a lease keeps it only when no earlier one of its endpoint and payment is
  // pending (this statement's own rows are not seen: a run is judged as a whole) — one lookup per row
  // in webhook_deliveries_order: as `not exists`, the plan PostgreSQL kept from a small table read
  // every pending delivery once per statement (a backlog's worth for each batch after an outage;
  // test/int/db-plan-cache.int.spec.ts).
  const inserting =
    deliveries.length > 0
      ? tx<Array<{ id: string; event_id: string; leased: boolean }>>`
        insert into webhook_deliveries (id, event_id, endpoint_id, merchant_id, payment_id, seq, idx,
          origin, next_attempt_at, traceparent, leased_until)
        select r.id, r.event_id, r.endpoint_id, r.merchant_id, r.payment_id, r.seq, r.idx, r.origin,
          r.next_attempt_at, r.traceparent,
          case when earlier.seq is null then r.leased_until end
        from jsonb_to_recordset(${rowsParam(tx, deliveries)}) as r(id text, event_id text,
          endpoint_id text, merchant_id text, payment_id text, seq bigint, idx int, origin text,
          next_attempt_at timestamptz, traceparent text, leased_until timestamptz)
        left join lateral (select p.seq from webhook_deliveries p
          where r.leased_until is not null and p.endpoint_id = r.endpoint_id
            and p.payment_id = r.payment_id and p.status = 'pending'
          order by p.seq, p.idx limit 1) earlier on true
        on conflict (event_id, endpoint_id) where origin = 'stream' do nothing
        returning id, event_id, leased_until is not null as leased`.execute()
      : undefined;
  const [stored, inserted] = await Promise.all([storing, inserting]);
  const leased = (inserted ?? []).filter((d) => d.leased);
  if (leased.length === 0) return { stored: deliveries.length, reserved, handed: [] };
  const bodies = new Map<string, string>();
  for (const e of stored) if (e.body !== null) bodies.set(e.id, e.body);
  // An event stored before (its insert did nothing) with a delivery new now (an endpoint added since):
  // its body read by key.
  const missing = [...new Set(leased.filter((d) => !bodies.has(d.event_id)).map((d) => d.event_id))];
  if (missing.length > 0)
    for (const e of await tx<Array<{ id: string; body: string }>>`
      select id, body::text as body from webhook_events where id = any(${missing})`)
      bodies.set(e.id, e.body);
  const appendedAt = new Map(entries.map((e) => [e.event.id, e.appendedAt]));
  const handed = handedRuns(deliveries, new Set(leased.map((d) => d.id)), bodies, endpoints, appendedAt);
  return { stored: deliveries.length, reserved, handed };
}

type DeliveryRow = {
  id: string;
  event_id: string;
  endpoint_id: string;
  merchant_id: string;
  payment_id: string;
  origin: string;
  traceparent: string | null;
  leased_until: Date | null;
};

/** Offer leases to whole runs of one endpoint and payment, in the batch's order, while room lasts. */
function leaseRuns(deliveries: DeliveryRow[], now: Date, room: number, leaseMs: number): void {
  for (const run of runsOf(deliveries)) {
    if (room <= 0) return;
    // A run longer than the room: its first ones (the rest wait for them, then for a claim).
    run.slice(0, room).forEach((d, i) => (d.leased_until = new Date(now.getTime() + leaseMs * (i + 1))));
    room -= run.length;
  }
}

/** Deliveries grouped by endpoint and payment, each group in the order given, groups by first seen. */
function runsOf<T extends { endpoint_id: string; payment_id: string }>(rows: readonly T[]): T[][] {
  const runs = new Map<string, T[]>();
  for (const d of rows) {
    const key = `${d.endpoint_id}\u0000${d.payment_id}`;
    const run = runs.get(key);
    if (run) run.push(d);
    else runs.set(key, [d]);
  }
  return [...runs.values()];
}

/** The leased deliveries as the sender takes them: a claim's shape, in runs. */
function handedRuns(
  deliveries: readonly DeliveryRow[],
  leased: ReadonlySet<string>,
  bodies: ReadonlyMap<string, string>,
  endpoints: readonly EndpointRow[],
  appendedAt: ReadonlyMap<string, Date>,
): Claimed[][] {
  const byId = new Map(endpoints.map((ep) => [ep.id, ep]));
  const handed: Claimed[] = [];
  for (const d of deliveries) {
    const body = bodies.get(d.event_id);
    const ep = byId.get(d.endpoint_id);
    if (!leased.has(d.id) || body === undefined || ep === undefined) continue;
    handed.push({
      id: ep.id,
      secret_sealed: ep.secret_sealed,
      previous_secret_sealed: ep.previous_secret_sealed,
      previous_secret_expires_at: ep.previous_secret_expires_at,
      url: ep.url,
      failing_since: ep.failing_since,
      format: ep.format,
      delivery_id: d.id,
      event_id: d.event_id,
      endpoint_id: d.endpoint_id,
      merchant_id: d.merchant_id,
      payment_id: d.payment_id,
      origin: d.origin,
      attempts: 0,
      traceparent: d.traceparent,
      body,
      appended_at: appendedAt.get(d.event_id) ?? new Date(0),
    });
  }
  return runsOf(handed);
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

/** Pending deliveries given back unsent (leased_until cleared): claimable again at once. */
export async function releaseLeases(sql: Sql | Tx, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`update webhook_deliveries set leased_until = null
    where id = any(${ids as string[]}) and status = 'pending'`;
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
