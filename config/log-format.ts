// Log lines for a person at a terminal. pino writes one JSON object per line, which is what log
// shippers want and what a newcomer running `npm start` cannot read; when stdout is a TTY the
// lines are rewritten as `12:04:05.123 INFO  gateway listening  url=http://…`, with the error's
// stack under it. Not a pino transport (no worker thread, no extra dependency): a small stream
// pino writes to. Redaction has already happened by then: this sees only what pino would print.
import { Writable } from "node:stream";
import { pino } from "pino";

const LEVELS: Readonly<Record<number, { name: string; color: string }>> = {
  10: { name: "TRACE", color: "90" },
  20: { name: "DEBUG", color: "36" },
  30: { name: "INFO ", color: "32" },
  40: { name: "WARN ", color: "33" },
  50: { name: "ERROR", color: "31" },
  60: { name: "FATAL", color: "35" },
};

// Shown by their place in the line, or not at all (the same on every line of a process).
const OMITTED = new Set(["level", "time", "msg", "pid", "hostname", "service", "role", "err"]);

type LogRecord = Record<string, unknown> & { level?: number; time?: number; msg?: string; role?: string };

function paint(on: boolean, code: string, text: string): string {
  return on ? `\x1b[${code}m${text}\x1b[0m` : text;
}

function valueText(v: unknown): string {
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

/** One pino JSON line as one human-readable line (more when it carries an error's stack). */
export function formatLogLine(line: string, opts: { color: boolean }): string {
  let rec: LogRecord;
  try {
    rec = JSON.parse(line) as LogRecord;
  } catch {
    return line; // not ours to judge: print it as it came
  }
  const level = LEVELS[rec.level ?? 30] ?? { name: String(rec.level), color: "0" };
  const time = new Date(typeof rec.time === "number" ? rec.time : Date.now()).toISOString().slice(11, 23);
  const role = typeof rec.role === "string" ? `${paint(opts.color, "1", rec.role.padEnd(7))} ` : "";
  const fields = Object.entries(rec)
    .filter(([k]) => !OMITTED.has(k))
    .map(([k, v]) => `${paint(opts.color, "2", `${k}=`)}${valueText(v)}`)
    .join(" ");
  let out = `${paint(opts.color, "2", time)} ${paint(opts.color, level.color, level.name)} ${role}${rec.msg ?? ""}`;
  if (fields) out += `  ${fields}`;
  const err = rec.err as { type?: string; message?: string; stack?: string } | undefined;
  if (err && typeof err === "object") {
    const stack = typeof err.stack === "string" ? err.stack : `${err.type ?? "Error"}: ${err.message ?? ""}`;
    out += `\n${stack
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n")}`;
  }
  return out;
}

/** A stream pino can write to that prints formatted lines to `out`. */
export function prettyStream(out: NodeJS.WritableStream, opts: { color: boolean }): Writable {
  let pending = "";
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      pending += chunk.toString();
      let nl: number;
      while ((nl = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.trim() !== "") out.write(`${formatLogLine(line, opts)}\n`);
      }
      done();
    },
  });
}

/** LOG_FLUSH_MS's default: how long a log line may wait in the buffer before it is written. */
export const DEFAULT_LOG_FLUSH_MS = 100;
/** Buffered bytes that make a write at once, whatever the time. */
const LOG_BUFFER_BYTES = 4096;

/**
 * Where the logger should write: formatted lines when stdout is a terminal (colored unless
 * NO_COLOR is set, the cross-tool convention); otherwise pino's own JSON on stdout, which is also
 * what a pipe or a file gets (`npm start | tee run.log` stays machine-readable). That JSON is
 * buffered: written when 4 KiB have gathered or LOG_FLUSH_MS (100 ms) after the first line waiting,
 * and everything left on exit (pino flushes its destination then). pino's default writes a line as
 * soon as the previous write is done: under load lines share writes, but at one client each line
 * is a system call of its own — 0.28 ms of CPU per payment for its three info lines, 6 % of it.
 * What a SIGKILL can cost is the last LOG_FLUSH_MS of lines; `LOG_FLUSH_MS=0` is pino's default.
 */
export function logDestination(env: NodeJS.ProcessEnv = process.env): Writable | undefined {
  if (process.stdout.isTTY === true)
    return prettyStream(process.stdout, { color: env.NO_COLOR === undefined });
  const flushMs = Number(env.LOG_FLUSH_MS ?? DEFAULT_LOG_FLUSH_MS);
  if (!Number.isInteger(flushMs) || flushMs <= 0) return undefined;
  return bufferedDestination(1, flushMs);
}

/** A pino destination (fd or file path) buffered as logDestination says. */
export function bufferedDestination(dest: number | string, flushMs = DEFAULT_LOG_FLUSH_MS): Writable {
  return pino.destination({
    dest,
    sync: false,
    minLength: LOG_BUFFER_BYTES,
    periodicFlush: flushMs,
  }) as unknown as Writable;
}
