// Merchant authentication: `Authorization: Bearer <key>` → merchant, key and scopes. Only sha256
// digests of keys are held: by the live index of the merchants bucket (LiveMerchantAuth, what a
// gateway runs), or by a fixed KeyRing whose keys hold every scope (MerchantAuth, for harnesses),
// compared in constant time against every key. Keys are never logged.
import { timingSafeEqual } from "node:crypto";
import { hashApiKey } from "../config/secrets.ts";
import { SCOPES, type Scope } from "../actors/merchants/core/keys.ts";
import type { KeyRecord } from "../streams/merchant-keys.ts";

export type MerchantKey = { merchantId: string; keyHash: Buffer };

/** The one key hash of the platform (also used for the stored demo key). */
export { hashApiKey as hashKey } from "../config/secrets.ts";

// RFC 6750 b64token, loosened to any visible ASCII; the scheme name is case-insensitive.
const BEARER = /^Bearer +([\x21-\x7e]{1,1024}) *$/i;

/**
 * Bearer keys held only as sha256 digests, each with its owner. A header is compared against every
 * key in constant time, with no early exit, whatever matched before. Used for merchants and
 * operators alike.
 */
export class KeyRing {
  readonly #keys: ReadonlyArray<{ owner: string; keyHash: Buffer }>;

  constructor(keys: ReadonlyArray<{ owner: string; keyHash: Buffer }>, role: string) {
    for (const k of keys)
      if (k.keyHash.length !== 32)
        throw new RangeError(`key hash of ${role} ${k.owner} is not a sha256 digest`);
    this.#keys = keys.map((k) => ({ owner: k.owner, keyHash: Buffer.from(k.keyHash) }));
  }

  get size(): number {
    return this.#keys.length;
  }

  /** The owner of the key the header carries, or undefined for a missing, malformed or unknown key. */
  match(authorizationHeader?: string): string | undefined {
    const token = bearerToken(authorizationHeader);
    if (token === undefined) return undefined;
    const digest = hashApiKey(token);
    let owner: string | undefined;
    for (const k of this.#keys) {
      const equal = timingSafeEqual(k.keyHash, digest);
      if (equal && owner === undefined) owner = k.owner;
    }
    return owner;
  }
}

/** A fixed set of merchant keys, each with every scope (test harnesses build the gateway with it). */
export class MerchantAuth implements MerchantAuthenticator {
  readonly #ring: KeyRing;

  constructor(keys: readonly MerchantKey[]) {
    this.#ring = new KeyRing(
      keys.map((k) => ({ owner: k.merchantId, keyHash: k.keyHash })),
      "merchant",
    );
  }

  /** The merchant whose key the header carries, or undefined for a missing, malformed or unknown key. */
  authenticate(authorizationHeader?: string): string | undefined {
    return this.#ring.match(authorizationHeader);
  }

  identify(authorizationHeader?: string): MerchantIdentity {
    const merchantId = this.#ring.match(authorizationHeader);
    return merchantId === undefined
      ? { ok: false, reason: "unknown" }
      : { ok: true, merchantId, keyId: null, scopes: ALL_SCOPES };
  }
}

/** The bearer token of an Authorization header, or undefined for a missing or malformed one. */
export function bearerToken(authorizationHeader?: string): string | undefined {
  const m = authorizationHeader === undefined ? null : BEARER.exec(authorizationHeader);
  return m ? m[1] : undefined;
}

/** Who a merchant request is, or why it is nobody. */
export type MerchantIdentity =
  | { ok: true; merchantId: string; keyId: string | null; scopes: ReadonlySet<Scope> }
  | { ok: false; reason: "unknown" | "expired" | "revoked" };

/** What the /v1 auth hook asks (and the /ops hook, to tell a merchant from a stranger). */
export interface MerchantAuthenticator {
  identify(authorizationHeader?: string): MerchantIdentity;
}

const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES);

/**
 * Merchant keys from the live index of the merchants bucket (streams/merchant-keys.ts), so a key
 * created or revoked on any gateway applies here within the watch's delay. The index is a Map keyed
 * by the sha256 digest of the presented key: the lookup's timing depends on the digest, never on
 * the key, and the digest of a 256-bit random key tells an attacker nothing they could steer, so
 * a hash lookup is as safe as KeyRing's compare-everything and O(1).
 */
export class LiveMerchantAuth implements MerchantAuthenticator {
  constructor(
    private readonly index: { lookup(keyHash: Buffer): KeyRecord | undefined },
    private readonly now: () => number = Date.now,
  ) {}

  identify(authorizationHeader?: string): MerchantIdentity {
    const token = bearerToken(authorizationHeader);
    const record = token === undefined ? undefined : this.index.lookup(hashApiKey(token));
    if (!record) return { ok: false, reason: "unknown" };
    if (record.revoked_at !== null) return { ok: false, reason: "revoked" };
    if (record.expires_at !== null && Date.parse(record.expires_at) <= this.now())
      return { ok: false, reason: "expired" };
    return { ok: true, merchantId: record.merchant_id, keyId: record.key_id, scopes: new Set(record.scopes) };
  }
}
