// The zod schemas of the webhook endpoints API (/v1/webhook_endpoints): request bodies and the
// endpoint object. The URL is only shaped here; whether the platform will call it is the URL
// policy's answer (actors/webhooks/core/url-policy.ts), given in the handler with its own error code.
import { z } from "zod";
import { ALL_EVENTS, EVENT_TYPES } from "../actors/webhooks/core/event-types.ts";
import { MAX_WEBHOOK_URL_LENGTH } from "../actors/webhooks/core/url-policy.ts";
import type { WebhookEndpointRow } from "../streams/webhook-endpoints.ts";

export const MAX_ENABLED_EVENTS = 32;
export const MAX_DESCRIPTION_LENGTH = 500;

export const WebhookEndpointIdParams = z.object({
  id: z
    .string()
    .regex(/^we_[0-9a-f]{24}$/, "not a webhook endpoint id")
    .describe("The endpoint id, e.g. we_3f2a…"),
});

const Url = z
  .string()
  // Longer than the policy's limit, so that limit answers with its own reason (too_long).
  .max(MAX_WEBHOOK_URL_LENGTH * 2)
  .describe(
    `Where events are POSTed: https://, at most ${MAX_WEBHOOK_URL_LENGTH} characters, no credentials ` +
      "or fragment; private, loopback and link-local hosts are refused (invalid_webhook_url).",
  );

const EnabledEvents = z
  .array(z.enum([ALL_EVENTS, ...EVENT_TYPES]))
  .min(1)
  .max(MAX_ENABLED_EVENTS)
  .refine((a) => new Set(a).size === a.length, "enabled_events must not repeat a type")
  .refine((a) => !a.includes(ALL_EVENTS) || a.length === 1, '"*" (every type) stands alone')
  .describe(`The event types to receive (${EVENT_TYPES.join(", ")}), or ["*"] for all, now and later.`);

const Description = z
  .string()
  .max(MAX_DESCRIPTION_LENGTH)
  .nullable()
  .describe(`The merchant's own note, at most ${MAX_DESCRIPTION_LENGTH} characters.`);

const Format = z
  .enum(["standard", "stripe"])
  .describe(
    "standard (default): Standard Webhooks body and signature; stripe: Stripe's event object " +
      "(payment_intent.succeeded, charge.refunded…) signed with Stripe-Signature (docs/stripe.md).",
  );

export const CreateWebhookEndpointBody = z
  .strictObject({
    url: Url,
    enabled_events: EnabledEvents,
    description: Description.optional(),
    format: Format.optional(),
  })
  .meta({ id: "CreateWebhookEndpointRequest" });

export const UpdateWebhookEndpointBody = z
  .strictObject({
    url: Url.optional(),
    enabled_events: EnabledEvents.optional(),
    description: Description.optional(),
    format: Format.optional(),
    disabled: z
      .boolean()
      .optional()
      .describe("true: no deliveries; false: enabled again (clears disabled_reason and failing_since)."),
  })
  .refine((b) => Object.keys(b).length > 0, "nothing to change: give at least one field")
  .meta({ id: "UpdateWebhookEndpointRequest" });

const Timestamp = z.string().describe("ISO 8601, UTC");

const endpointFields = {
  id: z.string(),
  object: z.literal("webhook_endpoint"),
  url: z.string(),
  description: z.string().nullable(),
  enabled_events: z.array(z.string()),
  format: Format,
  disabled: z.boolean(),
  disabled_reason: z
    .string()
    .nullable()
    .describe("Why it is disabled: by the merchant, or by the platform after failing too long."),
  failing_since: Timestamp.nullable().describe("Since when deliveries have kept failing; null: healthy."),
  previous_secret_expires_at: Timestamp.nullable().describe(
    "After a rotation: until when the previous secret still signs deliveries (both are sent).",
  ),
  created_at: Timestamp,
  updated_at: Timestamp,
};

export const WebhookEndpointResponse = z.object(endpointFields).meta({ id: "WebhookEndpoint" });
export type WebhookEndpointView = z.infer<typeof WebhookEndpointResponse>;

export const WebhookEndpointWithSecretResponse = z
  .object({
    ...endpointFields,
    secret: z
      .string()
      .describe("The signing secret (whsec_…, Standard Webhooks). Shown only in this answer: store it now."),
  })
  .meta({ id: "WebhookEndpointWithSecret" });

export const WebhookEndpointList = z
  .object({ object: z.literal("list"), data: z.array(WebhookEndpointResponse), has_more: z.literal(false) })
  .meta({ id: "WebhookEndpointList" });

export const DeletedWebhookEndpoint = z
  .object({ id: z.string(), object: z.literal("webhook_endpoint"), deleted: z.literal(true) })
  .meta({ id: "DeletedWebhookEndpoint" });

/** The endpoint as merchants see it: never a secret, sealed or not. */
export function endpointView(row: WebhookEndpointRow, now: Date): WebhookEndpointView {
  const graceLeft =
    row.previous_secret_expires_at !== null && row.previous_secret_expires_at.getTime() > now.getTime();
  return {
    id: row.id,
    object: "webhook_endpoint",
    url: row.url,
    description: row.description,
    enabled_events: row.enabled_events,
    format: row.format,
    disabled: row.disabled,
    disabled_reason: row.disabled_reason,
    failing_since: row.failing_since?.toISOString() ?? null,
    previous_secret_expires_at: graceLeft ? (row.previous_secret_expires_at?.toISOString() ?? null) : null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
