// The secrets that verify PSP notifications, and the published development ones the sandbox signs with.

/**
 * How the PSPs' notifications to POST /webhooks/psp/<psp> are verified: acme's signing secret
 * (Acme-Signature, Stripe's scheme) and its timestamp tolerance, bolt's HMAC key (hex, Adyen's).
 * Unset, that PSP's notification door stays closed (503 notifications_not_configured): there is no
 * default here, so a production role never verifies with a published secret.
 */
export type NotificationSecrets = {
  acmeWebhookSecret: string | undefined;
  boltHmacKey: string | undefined;
  toleranceSec: number;
  /**
   * A second factor per PSP, as Adyen and Stripe recommend: `user:password` the PSP must send as HTTP
   * basic auth (configured at the PSP, and given to the sandbox so that it sends it too). Optional.
   */
  basicAuth?: Partial<Record<string, string>>;
};

/**
 * The development secrets: what the sandbox signs with, and what the development compositions
 * (scripts/platform.ts: npm start, the tests, the bench) verify with when none is configured. Public
 * by design; the production roles (gateway/main.ts) never fall back on them.
 */
export const DEV_NOTIFICATION_SECRETS = {
  acmeWebhookSecret: "whsec_acme_development_only_not_a_secret",
  boltHmacKey: "44782def547aaa06c910c43932b1eb0c71fc68d9d0c057550c48ec2acf6ba056",
  toleranceSec: 300,
} as const satisfies NotificationSecrets;
