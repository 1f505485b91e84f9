// Ids and request fingerprints of the simulated PSPs.
import { createHmac, randomBytes } from "node:crypto";

// Request fingerprints are keyed hashes so that the store never holds a value a card number could be
// recovered from by brute force over the small PAN space.
const FINGERPRINT_KEY = randomBytes(32);
export function fingerprint(parts: unknown): string {
  return createHmac("sha256", FINGERPRINT_KEY).update(JSON.stringify(parts)).digest("base64url");
}

export function randomId(prefix: string, length: number): string {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const bytes = randomBytes(length);
  let id = prefix;
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}
