// A pino logger whose lines are kept in memory, so a test can read what was logged (and check
// what was not: card numbers, keys).
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";

export function capturingLogger(level = "debug"): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { log: pino({ level }, sink), lines };
}
