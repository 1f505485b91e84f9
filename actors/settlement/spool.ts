// A report arrives as a stream (an upload, a PSP's download): it is written to a spool file while it
// is hashed, so the ingest knows the report's SHA-256 (its identity) before it reads a line, and
// memory stays flat whatever the size.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

/** Streams `body` to `path`, hashing it on the way; more than `maxBytes` fails with `tooLarge()`. */
export async function spoolAndHash(
  body: NodeJS.ReadableStream | AsyncIterable<Uint8Array>,
  path: string,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<string> {
  const hash = createHash("sha256");
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > maxBytes) {
        cb(tooLarge());
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(body, tap, createWriteStream(path));
  return hash.digest("hex");
}
