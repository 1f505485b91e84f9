// The rules of merchants' webhook endpoints: how many a merchant may have, and how long a rotated-out
// signing secret still signs (a merchant rolls its receivers over while deliveries carry both
// signatures). Pure. streams/webhook-endpoints.ts stores the endpoints and applies these as it is
// told (actors/webhooks/endpoints.ts); the sender signs with the secrets in force.

export const MAX_ENDPOINTS_PER_MERCHANT = 16;
export const DEFAULT_SECRET_GRACE_MS = 24 * 3_600_000;

/** What the rules read of an endpoint's secrets (sealed or not: they only choose). */
export type EndpointSecrets<S> = {
  secret: S;
  previous: S | null;
  previousExpiresAt: Date | null;
};

/** The secrets a delivery is signed with at `now`: the current one, then the previous one while its grace lasts. */
export function secretsInForce<S>(e: EndpointSecrets<S>, now: Date): S[] {
  const secrets = [e.secret];
  if (e.previous !== null && e.previousExpiresAt !== null && e.previousExpiresAt.getTime() > now.getTime())
    secrets.push(e.previous);
  return secrets;
}
