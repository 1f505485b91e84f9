// Card numbers where none belongs. A merchant that pastes a PAN into `reference` or `metadata`
// (or any other free text: a policy comment, an unknown field, a path id) would have it stored in
// events, logged and echoed in every answer; the only place a card number may travel is
// payment_method.card.number, which is sealed. Found before schema validation and before any
// handler, so no validation message, error message or log line can echo one either.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { containsCardNumber } from "../actors/payment/core/card-in-text.ts";
import { ApiError, type ValidationIssue } from "./errors.ts";

export { containsCardNumber };

/** The one place a card number belongs: a payment's card, or the card of POST /v1/card-tokens. */
const CARD_NUMBER_PATH = "payment_method.card.number";
const CARD_TOKEN_ROUTE = "/v1/card-tokens";
const CARD_TOKEN_NUMBER_PATH = "card.number";

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
export function cardNumberIssues(
  value: unknown,
  where: string,
  allowed: string = CARD_NUMBER_PATH,
): ValidationIssue[] {
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
      if (f.path !== allowed && containsCardNumber(v)) out.push(cardIssue(where, f.path, "this value"));
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
    ...cardNumberIssues(
      req.body,
      "body",
      req.routeOptions.url === CARD_TOKEN_ROUTE ? CARD_TOKEN_NUMBER_PATH : CARD_NUMBER_PATH,
    ),
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
