// Card numbers where none belongs. A merchant that pastes a PAN into `reference` or `metadata`
// (or any other free text: a policy comment, an unknown field) would have it stored in events and
// echoed in every answer; the only place a card number may travel is payment_method.card.number,
// which is sealed. Found before schema validation, so no validation message can echo one either.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { luhnValid } from "../actors/payment/card.ts";
import { ApiError, type ValidationIssue } from "./errors.ts";

// Digits, with at most one space or dash between two of them ("4242 4242 4242 4242").
const DIGIT_RUN = /\d(?:[ -]?\d)*/g;
// The cheap question first (every string of every request is asked): 13 such digits in a row?
const THIRTEEN_DIGITS = /\d(?:[ -]?\d){12}/;

/**
 * Whether the text holds 13–19 digits that pass Luhn and start with a non-zero digit (no issuer
 * number starts with 0). Separators may glue a PAN to a neighbouring number ("order 12 4242 4242
 * 4242 4242"), so every span of whole separator-delimited groups is tried; an unbroken run of 20+
 * digits is some other number and is left alone.
 */
export function containsCardNumber(text: string): boolean {
  if (!THIRTEEN_DIGITS.test(text)) return false;
  for (const m of text.matchAll(DIGIT_RUN)) {
    const groups = m[0].split(/[ -]/);
    for (let i = 0; i < groups.length; i++) {
      let digits = "";
      for (let j = i; j < groups.length && digits.length < 19; j++) {
        digits += groups[j]!;
        if (digits.length >= 13 && digits.length <= 19 && digits[0] !== "0" && luhnValid(digits)) return true;
      }
    }
  }
  return false;
}

/** The one place a card number belongs. */
const CARD_NUMBER_PATH = "payment_method.card.number";

/**
 * Where `value` holds a card number: one issue per string or key. A key that holds one is named
 * `[key]` under its parent, never by itself.
 */
export function cardNumberIssues(value: unknown, where: string, here = ""): ValidationIssue[] {
  const issue = (p: string, what: string): ValidationIssue => ({
    in: where,
    path: p,
    code: "card_number_in_free_text",
    message: `${what} looks like a card number: card numbers go only in ${CARD_NUMBER_PATH}`,
  });
  if (typeof value === "string")
    return here !== CARD_NUMBER_PATH && containsCardNumber(value) ? [issue(here, "this value")] : [];
  if (typeof value !== "object" || value === null) return [];
  let out: ValidationIssue[] | undefined;
  for (const [k, v] of Object.entries(value)) {
    const at = here ? `${here}.${k}` : k;
    const found = containsCardNumber(k)
      ? [issue(here ? `${here}.[key]` : "[key]", "a key")]
      : cardNumberIssues(v, where, at);
    if (found.length > 0) (out ??= []).push(...found);
  }
  return out ?? [];
}

/** preValidation hook of every route: the body and the query string, before zod sees them. */
export function refuseCardNumbersInFreeText(
  req: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const issues = [...cardNumberIssues(req.query, "querystring"), ...cardNumberIssues(req.body, "body")];
  const first = issues[0];
  if (first) {
    done(
      new ApiError(
        "card_number_in_free_text",
        `${first.path || first.in}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`,
        { issues },
      ),
    );
    return;
  }
  done();
}
