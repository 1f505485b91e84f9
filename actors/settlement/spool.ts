// A report arrives as a stream (an upload, a PSP's download): it is written to a spool file while it
// is hashed, so the ingest knows the report's SHA-256 (its identity) before it reads a line, and
// memory stays flat whatever the size. The bytes are checked on the way too (ReportGuard: UTF-8, no
// NUL, bounded fields), so a report that could not be recorded is refused before a line is read.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ReportGuard } from "../psp/settlement/guard.ts";

/**
 * Streams `body` to `path`, hashing and checking it on the way; more than `maxBytes` fails with
 * `tooLarge()`, bytes that are not acceptable report text with ReportContentError.
 */
export async function spoolAndHash(
  body: NodeJS.ReadableStream | AsyncIterable<Uint8Array>,
  path: string,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<string> {
  const hash = createHash("sha256");
  const guard = new ReportGuard();
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > maxBytes) {
        cb(tooLarge());
        return;
      }
      try {
        guard.push(chunk);
      } catch (err) {
        cb(err as Error);
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      try {
        guard.end();
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
  await pipeline(body, tap, createWriteStream(path));
  return hash.digest("hex");
}
