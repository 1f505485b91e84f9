// Merchants' webhook endpoints as the gateway and the sender use them: the store of
// streams/webhook-endpoints.ts with the endpoint rules (endpoint-rules.ts) given, new secrets in
// Standard Webhooks' format, and the secrets a delivery is signed with, opened.
import { randomBytes } from "node:crypto";
import { openText } from "../../config/card-seal.ts";
import type { Sql } from "../../streams/db/client.ts";
import {
  WebhookEndpointRecords,
  type EndpointRules,
  type WebhookEndpointRow,
} from "../../streams/webhook-endpoints.ts";
import {
  DEFAULT_SECRET_GRACE_MS,
  MAX_ENDPOINTS_PER_MERCHANT,
  secretsInForce,
} from "./core/endpoint-rules.ts";
import { SECRET_PREFIX } from "./core/signature.ts";

export { DEFAULT_SECRET_GRACE_MS, MAX_ENDPOINTS_PER_MERCHANT } from "./core/endpoint-rules.ts";
export {
  WebhookEndpointStoreError,
  WebhookEndpointStoreErrorCode,
  type EndpointInput,
  type EndpointPatch,
  type Issued,
  type WebhookEndpointRow,
} from "../../streams/webhook-endpoints.ts";

/** Standard Webhooks: `whsec_` and the base64 of the key bytes (24 to 64 of them; we take 32). */
const SECRET_BYTES = 32;

export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString("base64")}`;
}

/** The endpoint rules the store applies; `graceMs` is the deployment's (SWITCHYARD_WEBHOOK_SECRET_GRACE). */
export function endpointRules(graceMs = DEFAULT_SECRET_GRACE_MS): EndpointRules {
  return { maxPerMerchant: MAX_ENDPOINTS_PER_MERCHANT, secretGraceMs: graceMs, newSecret: newWebhookSecret };
}

/** The endpoints' store, with the rules: at most MAX_ENDPOINTS_PER_MERCHANT each, the grace given. */
export class WebhookEndpointStore extends WebhookEndpointRecords {
  constructor(
    sql: Sql,
    o: {
      /** The card keys: the first seals, all of them open. */
      keys: readonly Buffer[];
      /** How long a rotated-out secret still signs (default DEFAULT_SECRET_GRACE_MS). */
      graceMs?: number;
      now?: () => Date;
    },
  ) {
    super(sql, {
      keys: o.keys,
      rules: endpointRules(o.graceMs),
      now: o.now,
    });
  }
}

/**
 * The secrets a delivery to this endpoint is signed with now: the current one first, then the
 * previous one while its grace lasts. `keys`: the card keys, current first, then the retired ones.
 */
export function signingSecrets(
  row: Pick<
    WebhookEndpointRow,
    "id" | "secret_sealed" | "previous_secret_sealed" | "previous_secret_expires_at"
  >,
  keys: readonly Buffer[],
  now: Date,
): string[] {
  const sealed = secretsInForce(
    {
      secret: row.secret_sealed,
      previous: row.previous_secret_sealed,
      previousExpiresAt: row.previous_secret_expires_at,
    },
    now,
  );
  return sealed.map((s) => openText(keys, s, row.id));
}
