// The one definition of the values every payment message shares — amounts, currencies, ids, times —
// used alike by the HTTP bodies (gateway/schemas.ts), the NATS commands (commands.ts) and the events
// (events.ts), so the NATS contract is exactly as strict as HTTP. Pure: zod and money.ts only.
import { z } from "zod";
import { CURRENCY_EXPONENTS, MAX_AMOUNT } from "./money.ts";

const CURRENCIES = Object.keys(CURRENCY_EXPONENTS) as [string, ...string[]];

/** A positive integer amount in the currency's minor unit, at most MAX_AMOUNT. */
export const Amount = z.number().int().positive().max(MAX_AMOUNT);

/** A fee or a running total in minor units: a non-negative safe integer. */
export const MinorUnits = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** An uppercase ISO 4217 code the platform knows (with its exponent). */
export const Currency = z.enum(CURRENCIES);

/** Ids end up in NATS subjects and Redis keys: nothing else gets through. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const Id = z.string().regex(ID_PATTERN);

export const At = z.iso.datetime();

/**
 * How deep a JSON value may nest, counting the top-level object as 1. The deepest message we define
 * (a routing policy's conditions) needs about ten levels; a deeper body is refused before anything
 * walks it, so no recursive reader downstream (the card-number check, zod, JSON.stringify) can
 * overflow the stack on one.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Text no store downstream can hold: PostgreSQL refuses NUL (U+0000) in text and jsonb, and a lone
 * surrogate (U+D800–U+DFFF without its pair) is no Unicode character (jsonb refuses its escape, UTF-8
 * cannot encode it). A follower that meets one cannot apply its frame.
 */
export const TextProblem = { nul: "nul_character", loneSurrogate: "lone_surrogate" } as const;
export type TextProblem = (typeof TextProblem)[keyof typeof TextProblem];

export function textProblemOf(text: string): TextProblem | undefined {
  if (!text.isWellFormed()) return TextProblem.loneSurrogate;
  if (text.includes("\u0000")) return TextProblem.nul;
  return undefined;
}

/** Where a value holds what no store can: `path` names a key as `[key]` under its parent, never by itself. */
export type UnsafeText = { path: string; problem: TextProblem | "too_deep" };

/** What each problem means, for the one refusing it (never quoting the value). */
export const UNSAFE_TEXT: Record<UnsafeText["problem"], string> = {
  [TextProblem.nul]: "holds a NUL character (U+0000), which no store can hold",
  [TextProblem.loneSurrogate]: "holds a lone surrogate (U+D800–U+DFFF), which is not Unicode text",
  too_deep: `nests deeper than ${MAX_JSON_DEPTH} levels`,
};

type Frame = { value: unknown; key: string; parent: Frame | undefined; depth: number };

function pathOf(f: Frame | undefined, last?: string): string {
  const parts: string[] = last === undefined ? [] : [last];
  for (let at = f; at?.parent !== undefined; at = at.parent) parts.push(at.key);
  return parts.reverse().join(".");
}

/**
 * The first string or object key in `value` that no store can hold, or the first object or array
 * nested past `maxDepth`; undefined when there is none. Iterative (a deep value cannot overflow the
 * stack), and a path is only built for the one it reports: one pass, about 50 ns a string.
 */
export function findUnsafeText(value: unknown, maxDepth = MAX_JSON_DEPTH): UnsafeText | undefined {
  const stack: Frame[] = [{ value, key: "", parent: undefined, depth: 1 }];
  for (let f = stack.pop(); f !== undefined; f = stack.pop()) {
    if (f.parent !== undefined) {
      const problem = textProblemOf(f.key);
      if (problem !== undefined) return { path: pathOf(f.parent, "[key]"), problem };
    }
    const v = f.value;
    if (typeof v === "string") {
      const problem = textProblemOf(v);
      if (problem !== undefined) return { path: pathOf(f), problem };
      continue;
    }
    if (typeof v !== "object" || v === null) continue;
    if (f.depth > maxDepth) return { path: pathOf(f), problem: "too_deep" };
    const keys = Object.keys(v);
    // Pushed last to first, so the first problem in document order is the one reported.
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      stack.push({ value: (v as Record<string, unknown>)[k], key: k, parent: f, depth: f.depth + 1 });
    }
  }
  return undefined;
}
