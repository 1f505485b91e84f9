// Merchant authentication: `Authorization: Bearer <key>` → merchantId. Only sha256 digests of keys
// are held, compared in constant time against every configured key, so neither the timing nor
// the position of a match says anything about a key. Keys are never logged.
import { timingSafeEqual } from "node:crypto";
import { hashApiKey } from "../config/secrets.ts";

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
    const m = authorizationHeader === undefined ? null : BEARER.exec(authorizationHeader);
    if (!m) return undefined;
    const digest = hashApiKey(m[1]!);
    let owner: string | undefined;
    for (const k of this.#keys) {
      const equal = timingSafeEqual(k.keyHash, digest);
      if (equal && owner === undefined) owner = k.owner;
    }
    return owner;
  }
}

export class MerchantAuth {
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
}
