// A simulated PSP's business refusals (a capture, void or refund it will not do), apart from its
// charges: each wire module (acme.ts, bolt.ts) words them its own way.
/** A business refusal of a capture, void or refund; each wire module words it its own way. */
export type Refusal = {
  refused: "not_found" | "invalid_state" | "amount_too_large" | "currency_mismatch";
  message: string;
};

export function isRefusal<T extends object>(r: T | Refusal): r is Refusal {
  return "refused" in r;
}

export function notFound(id: string): Refusal {
  return { refused: "not_found", message: `no such charge ${id}` };
}

export function currencyMismatch(charge: { id: string; currency: string }): Refusal {
  return { refused: "currency_mismatch", message: `charge ${charge.id} is in ${charge.currency}` };
}
