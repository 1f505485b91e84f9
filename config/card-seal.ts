// Card data crosses PAY_CMD only sealed (AES-256-GCM): the command stream is on disk, and the
// platform never stores a PAN in clear. Only the worker, to call a PSP, opens it.
//
// A seal names the key that made it (`v2.<key id>.<iv ‖ tag ‖ ciphertext>`, the id a hash prefix of
// the key, not the key), so the card key can rotate while sealed commands are still in the stream:
// the new key seals, and the retired keys are kept for opening until no command sealed with them is
// left (a command lives at most its redelivery window, then it is done or dead-lettered).
import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { randomBytesPooled } from "./random.ts";

export class SealError extends Error {
  override name = "SealError";
}

const FORMAT = "v2";

const keyIds = new WeakMap<Buffer, string>();

/** Short public id of a key: 8 hex characters of its SHA-256 (names the key, reveals nothing usable). */
export function cardKeyId(key: Buffer): string {
  let id = keyIds.get(key);
  if (id === undefined) {
    // Keys live for the process: hashed once each, not on every seal and open.
    id = createHash("sha256").update(key).digest("hex").slice(0, 8);
    keyIds.set(key, id);
  }
  return id;
}

/**
 * → `v2.<key id>.base64url(iv ‖ tag ‖ ciphertext)`: a secret the platform must keep and use again —
 * the card on PAY_CMD (actors/payment/card-seal.ts), a webhook endpoint's signing secret — under the
 * card keys, so it rotates with them. `aad` binds it to its owner (the payment id, the endpoint).
 * What the text is, and its schema, is its owner's business: this is the cipher and the key ring.
 */
export function sealText(key: Buffer, text: string, aad: string): string {
  const iv = randomBytesPooled(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
  return `${FORMAT}.${cardKeyId(key)}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url")}`;
}

/**
 * Opens what sealText sealed, with the key it names among the current and retired keys. A seal
 * without a key id (made before ids existed) is tried with each key in turn.
 */
export function openText(keys: Buffer | readonly Buffer[], sealed: string, aad: string): string {
  const ring: readonly Buffer[] = Buffer.isBuffer(keys) ? [keys] : keys;
  const parts = sealed.split(".");
  if (parts.length === 3 && parts[0] === FORMAT) {
    const key = ring.find((k) => cardKeyId(k) === parts[1]);
    if (!key) throw new SealError(`sealed with card key ${parts[1]}, which this process does not hold`);
    return openWith(key, parts[2] ?? "", aad);
  }
  let last: unknown;
  for (const key of ring) {
    try {
      return openWith(key, sealed, aad);
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof SealError ? last : new SealError("sealed card cannot be opened");
}

function openWith(key: Buffer, payload: string, aad: string): string {
  try {
    const raw = Buffer.from(payload, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  } catch (cause) {
    // Never include the payload: it could be (part of) a card.
    throw new SealError("sealed data cannot be opened (wrong key or tampered)", { cause });
  }
}
