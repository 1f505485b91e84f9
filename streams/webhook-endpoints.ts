// The merchants' webhook endpoints, in PostgreSQL (`webhook_endpoints`, a record, not a read
// model): where each merchant wants its events, which ones, and the secrets deliveries are signed
// with. A secret is kept only sealed under the card keys (bound to the endpoint id) and leaves in
// clear twice: in the answer that issued it, and in `signingSecrets` (actors/webhooks/endpoints.ts)
// for the sender.
//
// Rotation keeps the previous secret, with when its grace period ends, so deliveries can carry
// both signatures meanwhile. Only one previous secret is kept: a second rotation within the grace
// ends the first one's old secret at once. Storage only: how many endpoints a merchant may have,
// how long the grace lasts and what a secret looks like are the webhooks domain's
// (actors/webhooks/core/endpoint-rules.ts), given to this store as its EndpointRules.
import { createHash, randomBytes } from "node:crypto";
import { openText, sealText } from "../config/card-seal.ts";
import type { Sql } from "./db/client.ts";

/** The rules this store applies, given by the webhooks domain (actors/webhooks/endpoints.ts). */
export type EndpointRules = {
  /** A merchant's creations past this many endpoints are refused (webhook_endpoint_limit_reached). */
  maxPerMerchant: number;
  /** How long a rotated-out secret stays valid after the rotation. */
  secretGraceMs: number;
  /** A new signing secret, in clear. */
  newSecret: () => string;
};

export type WebhookEndpointRow = {
  id: string;
  merchant_id: string;
  url: string;
  description: string | null;
  /** `["*"]`: every event type. */
  enabled_events: string[];
  disabled: boolean;
  disabled_reason: string | null;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: Date | null;
  failing_since: Date | null;
  secret_issued_by: string | null;
  /** What deliveries look like: Standard Webhooks, or Stripe's event shape and signature (migration 012). */
  format: WebhookFormat;
  created_at: Date;
  updated_at: Date;
};

export type WebhookFormat = "standard" | "stripe";
export type EndpointInput = {
  url: string;
  enabledEvents: string[];
  description: string | null;
  /** Default standard. */
  format?: WebhookFormat;
};
export type EndpointPatch = Partial<EndpointInput & { disabled: boolean }>;

export const WebhookEndpointStoreErrorCode = {
  limitReached: "webhook_endpoint_limit_reached",
  idempotencyKeyReused: "idempotency_key_reused",
} as const;
export type WebhookEndpointStoreErrorCode =
  (typeof WebhookEndpointStoreErrorCode)[keyof typeof WebhookEndpointStoreErrorCode];

export class WebhookEndpointStoreError extends Error {
  override name = "WebhookEndpointStoreError";
  constructor(
    readonly code: WebhookEndpointStoreErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** What issuing a secret answers: the row, and the secret in clear (once; again only on a replay). */
export type Issued = { row: WebhookEndpointRow; secret: string | null; replayed: boolean };

const hash = (...parts: string[]) => createHash("sha256").update(parts.join("\u0000")).digest("hex");

export class WebhookEndpointRecords {
  private readonly now: () => Date;

  constructor(
    private readonly sql: Sql,
    private readonly o: {
      /** The card keys: the first seals, all of them open. */
      keys: readonly Buffer[];
      rules: EndpointRules;
      now?: () => Date;
    },
  ) {
    if (o.keys.length === 0) throw new Error("WebhookEndpointStore needs at least one key");
    this.now = o.now ?? (() => new Date());
  }

  /**
   * A new endpoint with a new secret. With an idempotency key the id derives from it: the same
   * request again is answered the same (the secret too, unless rotated since); another body 422.
   */
  async create(merchantId: string, input: EndpointInput, idempotencyKey?: string): Promise<Issued> {
    const at = this.now();
    const issuedBy =
      idempotencyKey === undefined
        ? null
        : hash(
            "create",
            merchantId,
            idempotencyKey,
            input.url,
            input.description ?? "",
            ...input.enabledEvents,
            // Only when not the default: the digests of requests made before formats existed stay.
            ...(input.format === "stripe" ? ["format:stripe"] : []),
          );
    const id =
      idempotencyKey === undefined
        ? `we_${randomBytes(12).toString("hex")}`
        : `we_${hash("endpoint", merchantId, idempotencyKey).slice(0, 24)}`;
    return this.sql.begin(async (tx) => {
      // Serializes one merchant's creations: the count below cannot be raced past the limit.
      await tx`select pg_advisory_xact_lock(hashtext(${`switchyard:webhook_endpoints:${merchantId}`}))`;
      const [existing] = await tx<WebhookEndpointRow[]>`select * from webhook_endpoints where id = ${id}`;
      if (existing) {
        if (
          existing.merchant_id === merchantId &&
          issuedBy !== null &&
          existing.secret_issued_by === issuedBy
        )
          return { row: existing, secret: this.open(existing.secret_sealed, id), replayed: true };
        if (existing.merchant_id === merchantId && sameInput(existing, input))
          return { row: existing, secret: null, replayed: true };
        throw new WebhookEndpointStoreError(
          "idempotency_key_reused",
          "this Idempotency-Key was used with another request",
        );
      }
      const [count] = await tx<{ n: number }[]>`
        select count(*)::int as n from webhook_endpoints where merchant_id = ${merchantId}`;
      const limit = this.o.rules.maxPerMerchant;
      if ((count?.n ?? 0) >= limit)
        throw new WebhookEndpointStoreError(
          "webhook_endpoint_limit_reached",
          `a merchant may have at most ${limit} webhook endpoints; delete one first`,
          { limit },
        );
      const secret = this.o.rules.newSecret();
      const [row] = await tx<WebhookEndpointRow[]>`
        insert into webhook_endpoints (id, merchant_id, url, description, enabled_events, disabled,
          secret_sealed, secret_issued_by, format, created_at, updated_at)
        values (${id}, ${merchantId}, ${input.url}, ${input.description}, ${input.enabledEvents}, false,
          ${this.seal(secret, id)}, ${issuedBy}, ${input.format ?? "standard"}, ${at}, ${at})
        returning *`;
      return { row: row!, secret, replayed: false };
    });
  }

  /** The merchant's endpoint; undefined for an unknown id or another merchant's. */
  async get(merchantId: string, id: string): Promise<WebhookEndpointRow | undefined> {
    const [row] = await this.sql<WebhookEndpointRow[]>`
      select * from webhook_endpoints where id = ${id} and merchant_id = ${merchantId}`;
    return row;
  }

  /** Any merchant's endpoint, by id (the dispatcher's view). */
  async getById(id: string): Promise<WebhookEndpointRow | undefined> {
    const [row] = await this.sql<WebhookEndpointRow[]>`select * from webhook_endpoints where id = ${id}`;
    return row;
  }

  /** Oldest first (at most the rules' maxPerMerchant: no paging needed). */
  list(merchantId: string): Promise<WebhookEndpointRow[]> {
    return this.sql<WebhookEndpointRow[]>`
      select * from webhook_endpoints where merchant_id = ${merchantId} order by created_at, id`;
  }

  /** The merchant's enabled endpoints that take events of this type. */
  subscribed(merchantId: string, type: string): Promise<WebhookEndpointRow[]> {
    return this.sql<WebhookEndpointRow[]>`
      select * from webhook_endpoints
      where merchant_id = ${merchantId} and not disabled
        and ('*' = any(enabled_events) or ${type} = any(enabled_events))
      order by created_at, id`;
  }

  /** Re-enabling forgets why it was disabled and since when it was failing. */
  async update(
    merchantId: string,
    id: string,
    patch: EndpointPatch,
  ): Promise<WebhookEndpointRow | undefined> {
    const at = this.now();
    const [row] = await this.sql<WebhookEndpointRow[]>`
      update webhook_endpoints set
        url = coalesce(${patch.url ?? null}, url),
        enabled_events = coalesce(${patch.enabledEvents ?? null}::text[], enabled_events),
        description = case when ${patch.description !== undefined} then ${patch.description ?? null} else description end,
        disabled = coalesce(${patch.disabled ?? null}::boolean, disabled),
        format = coalesce(${patch.format ?? null}, format),
        disabled_reason = case
          when ${patch.disabled === false} then null
          when ${patch.disabled === true} and not disabled then 'disabled by the merchant'
          else disabled_reason end,
        failing_since = case when ${patch.disabled === false} then null else failing_since end,
        updated_at = ${at}
      where id = ${id} and merchant_id = ${merchantId}
      returning *`;
    return row;
  }

  async delete(merchantId: string, id: string): Promise<boolean> {
    const rows = await this
      .sql`delete from webhook_endpoints where id = ${id} and merchant_id = ${merchantId}`;
    return rows.count > 0;
  }

  /**
   * A new secret; the current one becomes the previous, valid until the grace ends. With an
   * idempotency key, the same rotation again answers the same secret instead of rotating twice.
   */
  async rotate(merchantId: string, id: string, idempotencyKey?: string): Promise<Issued | undefined> {
    const at = this.now();
    const issuedBy = idempotencyKey === undefined ? null : hash("rotate", id, idempotencyKey);
    return this.sql.begin(async (tx) => {
      const [row] = await tx<WebhookEndpointRow[]>`
        select * from webhook_endpoints where id = ${id} and merchant_id = ${merchantId} for update`;
      if (!row) return undefined;
      if (issuedBy !== null && row.secret_issued_by === issuedBy)
        return { row, secret: this.open(row.secret_sealed, id), replayed: true };
      const secret = this.o.rules.newSecret();
      const expires = new Date(at.getTime() + this.o.rules.secretGraceMs);
      const [rotated] = await tx<WebhookEndpointRow[]>`
        update webhook_endpoints set
          previous_secret_sealed = secret_sealed,
          previous_secret_expires_at = ${expires},
          secret_sealed = ${this.seal(secret, id)},
          secret_issued_by = ${issuedBy},
          updated_at = ${at}
        where id = ${id}
        returning *`;
      return { row: rotated!, secret, replayed: false };
    });
  }

  private seal(secret: string, id: string): string {
    return sealText(this.o.keys[0]!, secret, id);
  }

  private open(sealed: string, id: string): string {
    return openText(this.o.keys, sealed, id);
  }
}

function sameInput(row: WebhookEndpointRow, input: EndpointInput): boolean {
  return (
    row.url === input.url &&
    (row.description ?? null) === input.description &&
    row.format === (input.format ?? "standard") &&
    row.enabled_events.length === input.enabledEvents.length &&
    row.enabled_events.every((e, i) => e === input.enabledEvents[i])
  );
}
