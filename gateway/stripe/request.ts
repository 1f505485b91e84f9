// A Stripe request's parameters: the form body (parsed by the layer's content-type parser, kept
// under a symbol so that the gateway-wide hooks, which refuse a card number anywhere but the native
// API's card field, do not see Stripe's card field) and the query string in bracket notation. The
// same card-number guard then runs here, with Stripe's card field as the one place a PAN belongs.
import type { FastifyRequest } from "fastify";
import { cardNumberIssues } from "../card-in-text.ts";
import { ApiError } from "../errors.ts";
import { parseQuery, type FormObject } from "./form.ts";

export const FORM = Symbol("stripe form");
export type FormBody = { [FORM]: FormObject };

export function paramsOf(req: FastifyRequest): FormObject {
  const body = req.body as Partial<FormBody> | undefined;
  const params = body?.[FORM] ?? {};
  refuseCardNumbers(params, "body");
  return params;
}

export function queryOf(req: FastifyRequest): FormObject {
  const params = parseQuery(req.url);
  refuseCardNumbers(params, "querystring");
  return params;
}

function refuseCardNumbers(params: FormObject, where: string): void {
  const pmd = params.payment_method_data;
  const card = typeof pmd === "object" && !Array.isArray(pmd) ? pmd.card : undefined;
  // Checked without the card's own number (the one field a PAN belongs in).
  const rest =
    typeof pmd === "object" && !Array.isArray(pmd) && typeof card === "object" && !Array.isArray(card)
      ? { ...params, payment_method_data: { ...pmd, card: { ...card, number: "" } } }
      : params;
  const issues = cardNumberIssues(rest, where);
  const first = issues[0];
  if (first)
    throw new ApiError("card_number_in_free_text", `${first.path || first.in}: ${first.message}`, { issues });
}
