// A journal entry and what makes one valid: one currency, postings in non-negative integer minor units
// on a debit or a credit column, debits equal to credits. Plus the one way the posting rules build
// entries (signed movements, merged per account), so that every rule balances by construction.

export const EntryKind = {
  capture: "capture",
  refund: "refund",
  settlement: "settlement",
  fee: "fee",
  payout: "payout",
  adjustment: "adjustment",
  chargeback: "chargeback",
  dispute: "dispute",
  resolution: "resolution",
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

export type Posting = { account: string; debit: number; credit: number };

export type JournalEntry = {
  /** Deterministic from the source: a replay produces the same id (the projector's key). */
  id: string;
  at: string;
  currency: string;
  kind: EntryKind;
  paymentId: string | null;
  description: string;
  /** What the entry came from: `PAY_EVT:<seq>#<eventNo>`, `SETTLE:<psp>:<reportId>#<lineNo>`, `RECON:<exceptionId>`, `RECON_EVT:<seq>`. */
  sources: string[];
  postings: Posting[];
};

export class UnbalancedEntryError extends Error {
  override name = "UnbalancedEntryError";
  constructor(
    readonly entryId: string,
    readonly problem: string,
  ) {
    super(`journal entry ${entryId}: ${problem}`);
  }
}

const isAmount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/** Why the entry is not a valid balanced entry, or null when it is. Sums in BigInt: exact at any size. */
export function balanceProblem(entry: JournalEntry): string | null {
  if (entry.postings.length === 0) return "no postings";
  let debit = 0n;
  let credit = 0n;
  for (const p of entry.postings) {
    if (!isAmount(p.debit) || !isAmount(p.credit))
      return `${p.account}: amounts must be non-negative safe integers (debit ${p.debit}, credit ${p.credit})`;
    if (p.debit > 0 && p.credit > 0) return `${p.account}: a posting is either a debit or a credit`;
    debit += BigInt(p.debit);
    credit += BigInt(p.credit);
  }
  return debit === credit ? null : `debits ${debit} ≠ credits ${credit} ${entry.currency}`;
}

export function isBalanced(entry: JournalEntry): boolean {
  return balanceProblem(entry) === null;
}

/** Throws UnbalancedEntryError unless debits equal credits in valid amounts. */
export function assertBalanced(entry: JournalEntry): void {
  const problem = balanceProblem(entry);
  if (problem !== null) throw new UnbalancedEntryError(entry.id, problem);
}

/** A movement on an account: positive debits it, negative credits it. */
export type Movement = readonly [account: string, signed: number];

/**
 * The postings of signed movements: merged per account in first-seen order, zeros dropped, the sign
 * turned into the debit or credit column. Movements that sum to zero give a balanced entry.
 */
export function toPostings(movements: readonly Movement[]): Posting[] {
  const byAccount = new Map<string, number>();
  for (const [account, signed] of movements) byAccount.set(account, (byAccount.get(account) ?? 0) + signed);
  const postings: Posting[] = [];
  for (const [account, signed] of byAccount) {
    if (signed === 0) continue;
    postings.push({ account, debit: signed > 0 ? signed : 0, credit: signed < 0 ? -signed : 0 });
  }
  return postings;
}

type Draft = Omit<JournalEntry, "id" | "postings"> & { movements: readonly Movement[] };

/**
 * Entries from drafts sharing one id base: drafts that move nothing are dropped; the id is the base
 * alone for a single entry, `<base>:<n>` (1-based) for several. Each entry is checked to balance:
 * a rule that does not is a bug, not data.
 */
export function entriesOf(idBase: string, drafts: readonly Draft[]): JournalEntry[] {
  const built = drafts
    .map(({ movements, ...rest }) => ({ ...rest, postings: toPostings(movements) }))
    .filter((d) => d.postings.length > 0);
  return built.map((d, i) => {
    const entry: JournalEntry = {
      id: built.length === 1 ? idBase : `${idBase}:${i + 1}`,
      at: d.at,
      currency: d.currency,
      kind: d.kind,
      paymentId: d.paymentId,
      description: d.description,
      sources: d.sources,
      postings: d.postings,
    };
    assertBalanced(entry);
    return entry;
  });
}
