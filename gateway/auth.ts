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

export class MerchantAuth {
  readonly #keys: readonly MerchantKey[];

  constructor(keys: readonly MerchantKey[]) {
    for (const k of keys)
      if (k.keyHash.length !== 32)
        throw new RangeError(`key hash of merchant ${k.merchantId} is not a sha256 digest`);
    this.#keys = keys.map((k) => ({ merchantId: k.merchantId, keyHash: Buffer.from(k.keyHash) }));
  }

  /** The merchant whose key the header carries, or undefined for a missing, malformed or unknown key. */
  authenticate(authorizationHeader?: string): string | undefined {
    const m = authorizationHeader === undefined ? null : BEARER.exec(authorizationHeader);
    if (!m) return undefined;
    const digest = hashApiKey(m[1]!);
    let merchantId: string | undefined;
    // No early exit: every configured key is compared, whatever matched before.
    for (const k of this.#keys) {
      const equal = timingSafeEqual(k.keyHash, digest);
      if (equal && merchantId === undefined) merchantId = k.merchantId;
    }
    return merchantId;
  }
}
