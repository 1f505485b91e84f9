// Ids and request fingerprints of the simulated PSPs.
import { createHmac, randomBytes } from "node:crypto";
import { randomBytesPooled } from "../../config/random.ts";

// Request fingerprints are keyed hashes so that the store never holds a value a card number could be
// recovered from by brute force over the small PAN space.
const FINGERPRINT_KEY = randomBytes(32);
export function fingerprint(parts: unknown): string {
  return createHmac("sha256", FINGERPRINT_KEY).update(JSON.stringify(parts)).digest("base64url");
}

/**
 * A charge, refund or notification id: `length` characters drawn from the process's pool of random
 * bytes (config/random.ts; one native call per id was ~5 % of the sandbox's CPU under the bench).
 */
export function randomId(prefix: string, length: number): string {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const bytes = randomBytesPooled(length);
  let id = prefix;
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}
