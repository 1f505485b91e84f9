// Card data crosses PAY_CMD only sealed (AES-256-GCM): the command stream is on disk, and the
// platform never stores a PAN in clear. Only the worker, to call a PSP, opens it.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { z } from "zod";
import type { CardSecret } from "../actors/psp/contract.ts";

const CardSecretSchema = z.object({
  number: z.string(),
  expMonth: z.number().int(),
  expYear: z.number().int(),
  cvc: z.string(),
});

export class SealError extends Error {
  override name = "SealError";
}

/** → base64url(iv ‖ tag ‖ ciphertext). `aad` binds the seal to one payment. */
export function sealCard(key: Buffer, card: CardSecret, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(JSON.stringify(card), "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
}

export function openCard(key: Buffer, sealed: string, aad: string): CardSecret {
  try {
    const raw = Buffer.from(sealed, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(12, 28));
    const clear = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    return CardSecretSchema.parse(JSON.parse(clear));
  } catch (cause) {
    // Never include the payload: it could be (part of) a card.
    throw new SealError("sealed card cannot be opened (wrong key or tampered)", { cause });
  }
}
