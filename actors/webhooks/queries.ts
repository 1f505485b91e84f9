// What the merchant API reads and asks of webhooks (gateway/routes/webhook-events.ts): a merchant's
// events by id or after a cursor, an endpoint's deliveries with their attempts, and new deliveries
// (redeliver an event, replay an endpoint since a time). Every query names the merchant: another
// merchant's event or endpoint is simply not found.
import { createHash } from "node:crypto";
import type { Sql } from "../../streams/db/client.ts";
import type { MerchantEvent } from "./core/catalog.ts";
import { isEventType, subscribes } from "./core/event-types.ts";
import type { Attempt } from "./store.ts";

/**
 * A redelivery's or replay's delivery id, from the request's Idempotency-Key: the same request
 * again queues nothing more (the rows exist) and answers the same deliveries.
 */
function requestedDeliveryId(merchantId: string, key: string, eventId: string, endpointId: string): string {
  const digest = createHash("sha256")
    .update(`${merchantId}\n${key}\n${eventId}\n${endpointId}`)
    .digest("base64url");
  return `whd_${digest.slice(0, 22)}`;
}

export async function eventOf(sql: Sql, merchantId: string, id: string): Promise<MerchantEvent | undefined> {
  const [row] = await sql<{ body: MerchantEvent }[]>`
    select body from webhook_events where id = ${id} and merchant_id = ${merchantId}`;
  return row?.body;
}

/** Where an event sits in its merchant's order, to continue a list after it; undefined: not theirs. */
export async function cursorOf(
  sql: Sql,
  merchantId: string,
  id: string,
): Promise<{ seq: number; idx: number } | undefined> {
  const [row] = await sql<{ seq: number; idx: number }[]>`
    select seq, idx from webhook_events where id = ${id} and merchant_id = ${merchantId}`;
  return row;
}

/** The merchant's events oldest first (the order they happened), after `cursor`, `limit` + whether more. */
export async function listEvents(
  sql: Sql,
  o: { merchantId: string; after?: { seq: number; idx: number }; type?: string; limit: number },
): Promise<{ events: MerchantEvent[]; hasMore: boolean }> {
  const after = o.after ?? { seq: 0, idx: -1 };
  const rows = await sql<{ body: MerchantEvent }[]>`
    select body from webhook_events
    where merchant_id = ${o.merchantId} and (seq, idx) > (${after.seq}, ${after.idx})
      ${o.type !== undefined ? sql`and type = ${o.type}` : sql``}
    order by seq, idx limit ${o.limit + 1}`;
  return { events: rows.slice(0, o.limit).map((r) => r.body), hasMore: rows.length > o.limit };
}

export type EndpointOfMerchant = { id: string; enabled_events: string[]; disabled: boolean };

export async function endpointOf(
  sql: Sql,
  merchantId: string,
  id: string,
): Promise<EndpointOfMerchant | undefined> {
  const [row] = await sql<EndpointOfMerchant[]>`
    select id, enabled_events, disabled from webhook_endpoints where id = ${id} and merchant_id = ${merchantId}`;
  return row;
}

export type DeliveryView = {
  id: string;
  object: "webhook_delivery";
  event_id: string;
  event_type: string;
  endpoint_id: string;
  payment_id: string;
  origin: "stream" | "redeliver" | "replay";
  status: "pending" | "succeeded" | "dead";
  attempts: Attempt[];
  next_attempt_at: string | null;
  created_at: string;
};

type DeliveryRow = {
  id: string;
  event_id: string;
  type: string;
  endpoint_id: string;
  payment_id: string;
  origin: DeliveryView["origin"];
  status: DeliveryView["status"];
  attempt_log: Attempt[];
  next_attempt_at: Date;
  created_at: Date;
};

function deliveryView(r: DeliveryRow): DeliveryView {
  return {
    id: r.id,
    object: "webhook_delivery",
    event_id: r.event_id,
    event_type: r.type,
    endpoint_id: r.endpoint_id,
    payment_id: r.payment_id,
    origin: r.origin,
    status: r.status,
    attempts: r.attempt_log,
    next_attempt_at: r.status === "pending" ? r.next_attempt_at.toISOString() : null,
    created_at: r.created_at.toISOString(),
  };
}

/** An endpoint's deliveries, newest first, after the delivery `startingAfter` (an id of that endpoint). */
export async function listDeliveries(
  sql: Sql,
  o: { endpointId: string; limit: number; startingAfter?: string; status?: string },
): Promise<{ deliveries: DeliveryView[]; hasMore: boolean } | undefined> {
  let cursor: { id: string } | undefined;
  if (o.startingAfter !== undefined) {
    [cursor] = await sql<{ id: string }[]>`
      select id from webhook_deliveries where id = ${o.startingAfter} and endpoint_id = ${o.endpointId}`;
    if (!cursor) return undefined;
  }
  const rows = await sql<DeliveryRow[]>`
    select d.id, d.event_id, e.type, d.endpoint_id, d.payment_id, d.origin, d.status, d.attempt_log,
      d.next_attempt_at, d.created_at
    from webhook_deliveries d join webhook_events e on e.id = d.event_id
    where d.endpoint_id = ${o.endpointId}
      ${
        // Compared in SQL: created_at has microseconds, a JS Date only milliseconds, and deliveries
        // stored in one transaction share their created_at (a cursor read back through JS lost them).
        cursor
          ? sql`and (d.created_at, d.id) < (select c.created_at, c.id from webhook_deliveries c where c.id = ${cursor.id})`
          : sql``
      }
      ${o.status !== undefined ? sql`and d.status = ${o.status}` : sql``}
    order by d.created_at desc, d.id desc limit ${o.limit + 1}`;
  return { deliveries: rows.slice(0, o.limit).map(deliveryView), hasMore: rows.length > o.limit };
}

/** What a merchant's redeliver or replay reads of an event to queue it again. */
type StoredEvent = { id: string; type: string; payment_id: string; seq: number; idx: number };

/**
 * A delivery the merchant asked for (redeliver, replay), due now: its id derives from the request's
 * Idempotency-Key, so the same request again queues nothing more.
 */
function requested(
  o: { merchantId: string; idempotencyKey: string; now: Date },
  e: StoredEvent,
  endpointId: string,
  origin: "redeliver" | "replay",
) {
  return {
    id: requestedDeliveryId(o.merchantId, o.idempotencyKey, e.id, endpointId),
    event_id: e.id,
    endpoint_id: endpointId,
    merchant_id: o.merchantId,
    payment_id: e.payment_id,
    seq: e.seq,
    idx: e.idx,
    origin,
    next_attempt_at: o.now,
  };
}

/**
 * A new delivery of the event to each of the merchant's enabled endpoints that take its type (or to
 * the one named). Sent under the event's own id: a merchant deduplicating by webhook-id sees a repeat.
 */
export async function redeliver(
  sql: Sql,
  o: { merchantId: string; eventId: string; endpointId?: string; idempotencyKey: string; now: Date },
): Promise<Array<{ id: string; endpoint_id: string }>> {
  return sql.begin(async (tx) => {
    const [event] = await tx<StoredEvent[]>`
      select id, type, payment_id, seq, idx from webhook_events
      where id = ${o.eventId} and merchant_id = ${o.merchantId}`;
    if (!event) return [];
    const endpoints = await tx<{ id: string; enabled_events: string[] }[]>`
      select id, enabled_events from webhook_endpoints
      where merchant_id = ${o.merchantId} and not disabled
        ${o.endpointId !== undefined ? tx`and id = ${o.endpointId}` : tx``}`;
    const rows = endpoints
      .filter(
        (ep) =>
          o.endpointId !== undefined ||
          (isEventType(event.type) && subscribes(ep.enabled_events, event.type)),
      )
      .map((ep) => requested(o, event, ep.id, "redeliver"));
    if (rows.length > 0) await tx`insert into webhook_deliveries ${tx(rows)} on conflict (id) do nothing`;
    return rows.map((r) => ({ id: r.id, endpoint_id: r.endpoint_id }));
  });
}

/** Every event of the merchant created since `since` that the endpoint takes, queued again for it. */
export async function replay(
  sql: Sql,
  o: { merchantId: string; endpoint: EndpointOfMerchant; since: Date; idempotencyKey: string; now: Date },
): Promise<number> {
  return sql.begin(async (tx) => {
    const events = await tx<StoredEvent[]>`
      select id, type, payment_id, seq, idx from webhook_events
      where merchant_id = ${o.merchantId} and created >= ${o.since} order by seq, idx limit 100000`;
    const rows = events
      .filter((e) => isEventType(e.type) && subscribes(o.endpoint.enabled_events, e.type))
      .map((e) => requested(o, e, o.endpoint.id, "replay"));
    for (let i = 0; i < rows.length; i += 1000)
      await tx`insert into webhook_deliveries ${tx(rows.slice(i, i + 1000))} on conflict (id) do nothing`;
    return rows.length;
  });
}
