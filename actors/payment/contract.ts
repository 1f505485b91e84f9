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
