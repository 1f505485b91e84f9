// PLACEHOLDER until H1b's streams/webhook-endpoints.ts is merged (issue 10): what the dispatcher needs
// of a webhook endpoint row — which events it takes, and its signing secrets in clear. The secrets
// are sealed as the shared design says (AES-256-GCM with the platform's card key, aad = endpoint
// id), in the card seal's `v2.<key id>.<base64url iv ‖ tag ‖ ciphertext>` format. The lead replaces
// sealSecret/openSecret/secretsOf with H1b's exports at merge; the dispatcher calls only
// `secretsOf` and `takesEvent`.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { cardKeyId } from "../../config/card-seal.ts";

/** The columns of `webhook_endpoints` the dispatcher reads. */
export type EndpointSecrets = {
  id: string;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: Date | null;
};

export class EndpointSecretError extends Error {
  override name = "EndpointSecretError";
}

export function sealSecret(key: Buffer, secret: string, endpointId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(endpointId));
  const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return `v2.${cardKeyId(key)}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url")}`;
}

export function openSecret(keys: readonly Buffer[], sealed: string, endpointId: string): string {
  const [format, keyId, payload = ""] = sealed.split(".");
  const key = keys.find((k) => cardKeyId(k) === keyId);
  if (format !== "v2" || !key)
    throw new EndpointSecretError(`endpoint ${endpointId}: secret sealed with an unknown key`);
  try {
    const raw = Buffer.from(payload, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(endpointId));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  } catch (cause) {
    throw new EndpointSecretError(`endpoint ${endpointId}: secret cannot be opened`, { cause });
  }
}

/** The secrets to sign with now: the current one, and the previous one while its grace period runs. */
export function secretsOf(row: EndpointSecrets, keys: readonly Buffer[], now: Date): string[] {
  const secrets = [openSecret(keys, row.secret_sealed, row.id)];
  if (
    row.previous_secret_sealed !== null &&
    row.previous_secret_expires_at !== null &&
    row.previous_secret_expires_at.getTime() > now.getTime()
  )
    secrets.push(openSecret(keys, row.previous_secret_sealed, row.id));
  return secrets;
}

/** Whether an endpoint's `enabled_events` take this event type (`*`: every type). */
export function takesEvent(enabledEvents: readonly string[], type: string): boolean {
  return enabledEvents.includes("*") || enabledEvents.includes(type);
}
