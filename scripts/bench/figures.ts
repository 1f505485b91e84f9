// The small arithmetic every bench report shares: rounding, medians over rounds, a latency as text,
// and the answers of a flow's rounds counted by status.
import type { RunResult } from "./load.ts";

export const r1 = (n: number) => Math.round(n * 10) / 10;
export const r3 = (n: number) => Math.round(n * 1000) / 1000;
export const ms = (n: number) => (Number.isFinite(n) ? `${r1(n).toFixed(1)} ms` : "n/a");

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The answers of some rounds, by HTTP status (or error text), with 201, 202 and the rest apart. */
export function answerCounts(runs: readonly RunResult[]) {
  const outcomes: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
  const status201 = outcomes["201"] ?? 0;
  const status202 = outcomes["202"] ?? 0;
  const errors = Object.values(outcomes).reduce((n, v) => n + v, 0) - status201 - status202;
  return { outcomes, status201, status202, errors };
}
