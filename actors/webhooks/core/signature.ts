// Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is
// `<webhook-id>.<webhook-timestamp>.<body>`, the key the bytes of the base64 part of a `whsec_…`
// secret, and `webhook-signature` one `v1,<base64 HMAC-SHA256>` per secret, space-separated (both
// the current and the previous secret while a rotation's grace period runs). Pure: node:crypto only.
import { createHmac } from "node:crypto";

export const SECRET_PREFIX = "whsec_";

export class WebhookSecretError extends Error {
  override name = "WebhookSecretError";
}

/** The key bytes of a `whsec_<base64>` secret (a bare base64 secret is read the same way). */
export function secretKey(secret: string): Buffer {
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  // Never quote the secret in the error.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new WebhookSecretError("webhook secret is not base64");
  const key = Buffer.from(b64, "base64");
  if (key.length < 16) throw new WebhookSecretError("webhook secret is shorter than 16 bytes");
  return key;
}

/** One `v1,<base64>` signature of the message. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest("base64");
  return `v1,${mac}`;
}

/** The headers of one delivery attempt: id, timestamp (unix seconds), one signature per secret. */
export function signedHeaders(
  secrets: readonly string[],
  id: string,
  at: Date,
  body: string,
): { "webhook-id": string; "webhook-timestamp": string; "webhook-signature": string } {
  if (secrets.length === 0) throw new WebhookSecretError("no secret to sign with");
  const timestamp = Math.floor(at.getTime() / 1000);
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": secrets.map((s) => sign(s, id, timestamp, body)).join(" "),
  };
}
