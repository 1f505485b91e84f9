// Card numbers where none belongs. A merchant that pastes a PAN into `reference` or `metadata`
// (or any other free text: a policy comment, an unknown field, a path id) would have it stored in
// events, logged and echoed in every answer; the only place a card number may travel is
// payment_method.card.number, which is sealed. Found before schema validation and before any
// handler, so no validation message, error message or log line can echo one either.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { luhnValid } from "../actors/payment/core/card.ts";
import { ApiError, type ValidationIssue } from "./errors.ts";

// Digits, with at most one space or dash between two of them ("4242 4242 4242 4242").
const DIGIT_RUN = /\d(?:[ -]?\d)*/g;
// The cheap question first (every string of every request is asked): 13 such digits in a row?
const THIRTEEN_DIGITS = /\d(?:[ -]?\d){12}/;

// A UUID (a merchant's order id, say) is a hex token whose all-digit groups can join into 13–19 digits.
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
// A letter or underscore right against a digit run makes it part of a word: an id, a hash, base64.
const WORD_CHAR = /[A-Za-z_]/;

/**
 * Whether the text holds 13–19 digits that pass Luhn and start with a non-zero digit (no issuer
 * number starts with 0). Separators may glue a PAN to a neighbouring number ("order 12 4242 4242
 * 4242 4242"), so every span of whole separator-delimited groups is tried; an unbroken run of 20+
 * digits is some other number and is left alone. Digits glued to a letter or an underscore, and a
 * UUID, are parts of identifiers: a random hex id (`pay_…`, a hash) holds 13 digits in a row about
 * once in fifty and would otherwise be refused about once in three hundred.
 */
export function containsCardNumber(text: string): boolean {
  if (!THIRTEEN_DIGITS.test(text)) return false;
  const scanned = text.replace(UUID, " ");
  for (const m of scanned.matchAll(DIGIT_RUN)) {
    const before = scanned[m.index - 1];
    const after = scanned[m.index + m[0].length];
    const groups = m[0].split(/[ -]/);
    // The group touching a letter belongs to that word; the groups past a separator are numbers.
    if (before && WORD_CHAR.test(before)) groups.shift();
    if (after && WORD_CHAR.test(after)) groups.pop();
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

// At module level, not a closure in cardNumberIssues: under tsx (keepNames) every named closure
// costs a defineProperty each time it is created, here three times per request.
function cardIssue(where: string, path: string, what: string): ValidationIssue {
  return {
    in: where,
    path,
    code: "card_number_in_free_text",
    message: `${what} looks like a card number: card numbers go only in ${CARD_NUMBER_PATH}`,
  };
}

/**
 * Where `value` holds a card number: one issue per string or key, in document order. A key that
 * holds one is named `[key]` under its parent, never by itself. Iterative: however deep the value,
 * this cannot overflow the stack (the JSON parser refuses bodies past MAX_JSON_DEPTH anyway).
 */
export function cardNumberIssues(value: unknown, where: string): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  type Frame = { value: unknown; path: string; key?: string; parentPath?: string };
  const stack: Frame[] = [{ value, path: "" }];
  for (let f = stack.pop(); f !== undefined; f = stack.pop()) {
    if (f.key !== undefined && containsCardNumber(f.key)) {
      out.push(cardIssue(where, f.parentPath ? `${f.parentPath}.[key]` : "[key]", "a key"));
      continue;
    }
    const v = f.value;
    if (typeof v === "string") {
      if (f.path !== CARD_NUMBER_PATH && containsCardNumber(v))
        out.push(cardIssue(where, f.path, "this value"));
      continue;
    }
    if (typeof v !== "object" || v === null) continue;
    const entries: Array<[string, unknown]> = Object.entries(v);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, child] = entries[i]!;
      stack.push({ value: child, path: f.path ? `${f.path}.${k}` : k, key: k, parentPath: f.path });
    }
  }
  return out;
}

/**
 * preValidation hook of every route: the path parameters, the query string and the body, before zod
 * sees them and before any handler could log or echo a path id ("no payment 3782…").
 */
export function refuseCardNumbersInFreeText(
  req: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const issues = [
    ...cardNumberIssues(req.params, "params"),
    ...cardNumberIssues(req.query, "querystring"),
    ...cardNumberIssues(req.body, "body"),
  ];
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
