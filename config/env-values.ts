// The values of the environment's variables: each parser takes the raw text of one variable and
// answers its typed value or the problem with it (echoed short, never a secret at length). Used by
// env.ts, which says which variable takes which.
import { z } from "zod";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type BootstrapKey = { merchantId: string; key: string };

/** What an operator may do on /ops: read (viewer), fix (operator), change policies and keys (admin). */
export const OPERATOR_ROLES = ["viewer", "operator", "admin"] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** An operator's API key for /ops/*; `name` identifies the operator in logs and on uploads. */
export type OperatorKey = { name: string; key: string; role: OperatorRole };

export type Parsed<T> = { value: T } | { problem: string };

// Echo a bad value so the operator sees what was read, but never at length.
export const shown = (raw: string): string => JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw);

/** An optional variable: unset or blank means `fallback`, anything else must pass `parse`. */
export function variable<T>(fallback: T, parse: (raw: string) => Parsed<T>) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T => {
      if (raw === undefined || raw.trim() === "") return fallback;
      const parsed = parse(raw.trim());
      if ("problem" in parsed) {
        ctx.addIssue({ code: "custom", message: parsed.problem });
        return z.NEVER;
      }
      return parsed.value;
    });
}

export function integer(min: number, max: number) {
  return (raw: string): Parsed<number> => {
    const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
    return n >= min && n <= max
      ? { value: n }
      : { problem: `expected an integer ${min}-${max}, got ${shown(raw)}` };
  };
}

// URLs may carry credentials, so a bad one is described, not echoed.
export function url(protocols: string[]) {
  const expected = `expected a ${protocols.map((p) => `${p}//`).join(" or ")} URL`;
  return (raw: string): Parsed<string> => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      return { problem: `${expected} (the value does not parse as one)` };
    }
    if (!protocols.includes(parsed.protocol)) {
      return { problem: `${expected}, got scheme ${shown(parsed.protocol)}` };
    }
    return parsed.hostname === "" ? { problem: `${expected} with a host` } : { value: raw };
  };
}

/**
 * One URL or several, comma-separated (a NATS cluster's servers, as the NATS tools take them); each
 * must pass `url(protocols)`. The value is the list re-joined with commas, blanks dropped.
 */
export function urlList(protocols: string[]) {
  const one = url(protocols);
  return (raw: string): Parsed<string> => {
    const items = raw.split(",").map((item) => item.trim());
    const problems: string[] = [];
    for (const [i, item] of items.entries()) {
      if (item === "") continue; // tolerate "a,,b" and a trailing comma in a hand-edited list
      const parsed = one(item);
      if ("problem" in parsed)
        problems.push(items.length > 1 ? `entry ${i + 1}: ${parsed.problem}` : parsed.problem);
    }
    const kept = items.filter((item) => item !== "");
    if (problems.length > 0) return { problem: problems.join(", ") };
    return kept.length > 0
      ? { value: kept.join(",") }
      : { problem: "expected at least one URL, got only commas" };
  };
}

export function matching(pattern: RegExp, description: string) {
  return (raw: string): Parsed<string> =>
    pattern.test(raw) ? { value: raw } : { problem: `expected ${description}, got ${shown(raw)}` };
}

const MERCHANT_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const MIN_KEY_LENGTH = 16;

// Keys are secrets: problems name the entry by position and never quote any part of it.
function bootstrapEntry(entry: string, n: number, earlier: BootstrapKey[]): Parsed<BootstrapKey> {
  const colon = entry.indexOf(":");
  if (colon < 0) return { problem: `entry ${n} is malformed (expected merchant_id:key)` };
  const merchantId = entry.slice(0, colon);
  const key = entry.slice(colon + 1);
  if (!MERCHANT_ID.test(merchantId)) {
    return { problem: `entry ${n} is malformed (merchant id must be 1-64 of [a-zA-Z0-9_-])` };
  }
  if (key.length < MIN_KEY_LENGTH) {
    return { problem: `entry ${n} is malformed (key must be at least ${MIN_KEY_LENGTH} characters)` };
  }
  // One key for two merchants would make authentication ambiguous.
  if (earlier.some((k) => k.key === key))
    return { problem: `entry ${n} repeats the key of an earlier entry` };
  return { value: { merchantId, key } };
}

export function bootstrapKeys(raw: string): Parsed<BootstrapKey[]> {
  const keys: BootstrapKey[] = [];
  const problems: string[] = [];
  for (const [i, entry] of raw.split(",").entries()) {
    if (entry.trim() === "") continue; // tolerate "a:k," and ",," in hand-edited lists
    const parsed = bootstrapEntry(entry.trim(), i + 1, keys);
    if ("problem" in parsed) problems.push(parsed.problem);
    else keys.push(parsed.value);
  }
  return problems.length > 0 ? { problem: problems.join(", ") } : { value: keys };
}

const OPERATOR_NAME = /^[a-zA-Z0-9_.-]{1,64}$/;
const MIN_OPERATOR_KEY_LENGTH = 24;

const isRole = (s: string): s is OperatorRole => (OPERATOR_ROLES as readonly string[]).includes(s);

// Same rules as bootstrap keys, stricter length: an operator key changes what every payment does.
// `name:key` or `name:key:role`; without a role an operator is admin, as every operator was before
// roles existed. A third part that is not a role is refused, not read as part of the key: a typo
// in a role must not leave an admin behind.
export function operatorKeys(raw: string): Parsed<OperatorKey[]> {
  const keys: OperatorKey[] = [];
  const problems: string[] = [];
  for (const [i, entry] of raw.split(",").entries()) {
    const trimmed = entry.trim();
    if (trimmed === "") continue;
    const n = i + 1;
    const [name = "", key = "", role = "admin", ...rest] = trimmed.split(":");
    if (!trimmed.includes(":") || rest.length > 0)
      problems.push(`entry ${n} is malformed (expected name:key or name:key:role)`);
    else if (!OPERATOR_NAME.test(name))
      problems.push(`entry ${n} is malformed (operator name must be 1-64 of [a-zA-Z0-9_.-])`);
    else if (key.length < MIN_OPERATOR_KEY_LENGTH)
      problems.push(`entry ${n} is malformed (key must be at least ${MIN_OPERATOR_KEY_LENGTH} characters)`);
    else if (!isRole(role))
      problems.push(`entry ${n} has an unknown role ${shown(role)} (expected ${OPERATOR_ROLES.join(", ")})`);
    else if (keys.some((k) => k.key === key)) problems.push(`entry ${n} repeats the key of an earlier entry`);
    else if (keys.some((k) => k.name === name))
      problems.push(`entry ${n} repeats the operator name ${shown(name)}`);
    else keys.push({ name, key, role });
  }
  return problems.length > 0 ? { problem: problems.join(", ") } : { value: keys };
}

export function cardKey(raw: string): Parsed<Buffer | undefined> {
  return /^[0-9a-fA-F]{64}$/.test(raw)
    ? { value: Buffer.from(raw, "hex") }
    : { problem: "expected 64 hex characters, an AES-256 key (the value is not shown)" };
}

export function cardKeyList(raw: string): Parsed<Buffer[]> {
  const keys: Buffer[] = [];
  for (const [i, item] of raw.split(",").entries()) {
    const k = cardKey(item.trim());
    if ("problem" in k || !k.value)
      return { problem: `entry ${i + 1}: expected 64 hex characters (not shown)` };
    keys.push(k.value);
  }
  return { value: keys };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `30s`, `15m`, `24h`, `7d` (a bare number is milliseconds), between min and max milliseconds. */
export function duration(minMs: number, maxMs: number) {
  return (raw: string): Parsed<number> => {
    const m = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(raw);
    const ms = m ? Number(m[1]) * (UNIT_MS[m[2] ?? "ms"] ?? NaN) : NaN;
    return ms >= minMs && ms <= maxMs
      ? { value: ms }
      : {
          problem: `expected a duration like 30s, 15m or 24h (${minMs}ms to ${maxMs / 86_400_000}d), got ${shown(raw)}`,
        };
  };
}

export function flag(raw: string): Parsed<boolean> {
  if (raw === "true" || raw === "1") return { value: true };
  if (raw === "false" || raw === "0") return { value: false };
  return { problem: `expected true or false, got ${shown(raw)}` };
}

/** `5s,5m,30m` → [5000, 300000, 1800000]: the delay before each retry, 1 to 20 of them. */
export function durationList(raw: string): Parsed<number[]> {
  const items = raw.split(",").map((item) => item.trim());
  if (items.length > 20) return { problem: `expected at most 20 retry delays, got ${items.length}` };
  const values: number[] = [];
  for (const [i, item] of items.entries()) {
    const d = duration(1, 366 * 86_400_000)(item);
    if ("problem" in d) return { problem: `entry ${i + 1}: ${d.problem}` };
    values.push(d.value);
  }
  return { value: values };
}

export function onOff(raw: string): Parsed<boolean> {
  if (raw === "on") return { value: true };
  if (raw === "off") return { value: false };
  return { problem: `expected on or off, got ${shown(raw)}` };
}

/** Where a worker runs its projections: `on` its own event loop, `thread` a worker thread, `off` none. */
export type ProjectionsMode = "on" | "thread" | "off";

export function projectionsMode(raw: string): Parsed<ProjectionsMode> {
  if (raw === "on" || raw === "thread" || raw === "off") return { value: raw };
  return { problem: `expected thread, on or off, got ${shown(raw)}` };
}

export function logLevel(raw: string): Parsed<LogLevel> {
  const level = LOG_LEVELS.find((l) => l === raw);
  return level !== undefined
    ? { value: level }
    : { problem: `expected one of ${LOG_LEVELS.join(", ")}, got ${shown(raw)}` };
}

export function dirList(raw: string): Parsed<string[] | undefined> {
  return { value: raw.split(":").filter((dir) => dir !== "") };
}

/** `user:password` for HTTP basic auth: a user without ':' and a password of 16+ printable characters. */
export function basicAuth(raw: string): { value: string } | { problem: string } {
  return /^[\x21-\x39\x3b-\x7e]{1,64}:[\x21-\x7e]{16,256}$/.test(raw)
    ? { value: raw }
    : {
        problem: "expected user:password, the password 16-256 printable characters (its value is not shown)",
      };
}
