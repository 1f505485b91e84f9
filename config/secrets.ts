// Secrets a single-machine deployment creates for itself on first start, kept in the data dir:
// the card-sealing key and the demo merchant's API key (stored only as a hash).
import { createHash, randomBytes, randomInt } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export class SecretFileError extends Error {
  override name = "SecretFileError";
}

export type DemoMerchant = { merchantId: "demo"; keyHash: Buffer; createdKey?: string };

const HEX_256 = /^[0-9a-f]{64}$/i;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** sha256 of an API key: what is stored and compared, so a leaked file grants nothing. */
export function hashApiKey(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/**
 * Creates `path` with `content` only if it does not exist yet, atomically: the gateway and the
 * worker may start together, and the loser must read the winner's complete file, never a
 * half-written one or a second key. Returns false when the file already existed.
 */
function createOnce(path: string, content: string): boolean {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temp, content, { mode: 0o600, flag: "wx" });
  try {
    linkSync(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    unlinkSync(temp);
  }
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Reads `<dataDir>/card.key` (hex), creating it with 32 random bytes on first use. */
export function loadOrCreateCardKey(dataDir: string): Buffer {
  const path = join(dataDir, "card.key");
  let text = readIfPresent(path);
  if (text === undefined) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    createOnce(path, `${randomBytes(32).toString("hex")}\n`);
    text = readFileSync(path, "utf8");
  }
  // Never replace a bad key file: whatever it sealed would become unreadable.
  if (!HEX_256.test(text.trim())) throw new SecretFileError(`${path} does not hold 64 hex characters`);
  return Buffer.from(text.trim(), "hex");
}

function randomBase62(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += BASE62.charAt(randomInt(BASE62.length));
  return out;
}

function readDemoMerchant(path: string, text: string): DemoMerchant {
  let keyHash: unknown;
  try {
    keyHash = (JSON.parse(text) as { keyHash?: unknown }).keyHash;
  } catch {
    throw new SecretFileError(`${path} is not valid JSON`);
  }
  if (typeof keyHash !== "string" || !HEX_256.test(keyHash)) {
    throw new SecretFileError(`${path} has no keyHash of 64 hex characters`);
  }
  return { merchantId: "demo", keyHash: Buffer.from(keyHash, "hex") };
}

/**
 * The demo merchant's key hash from `<dataDir>/demo-merchant.json`. On first use a key is
 * generated, only its hash is written, and the key itself is returned once as `createdKey` for
 * the caller to show: it cannot be recovered later.
 */
export function loadOrCreateDemoMerchant(dataDir: string): DemoMerchant {
  const path = join(dataDir, "demo-merchant.json");
  const existing = readIfPresent(path);
  if (existing !== undefined) return readDemoMerchant(path, existing);

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = `sk_demo_${randomBase62(32)}`;
  const keyHash = hashApiKey(key);
  const record = {
    merchantId: "demo",
    keyHash: keyHash.toString("hex"),
    createdAt: new Date().toISOString(),
  };
  if (createOnce(path, `${JSON.stringify(record, null, 2)}\n`)) {
    return { merchantId: "demo", keyHash, createdKey: key };
  }
  return readDemoMerchant(path, readFileSync(path, "utf8"));
}
