// The one rule for a PAY_CMD message's fate (actors/fate.ts): every outcome a path can report, below
// and at max_deliver, with and without the payment's retry terms.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import {
  DEAD_LETTER_REASONS,
  DEAD_LETTER_UNSTORED_RETRY_MS,
  dispositionFor,
  FENCED_RETRY_MS,
  PoisonReason,
  type Outcome,
} from "../../actors/fate.ts";
import type { RetryTerms } from "../../actors/policy/core/decision.ts";
import { ack, deadLetter, nak, type Disposition } from "../../streams/disposition.ts";

const MAX = 20;
const NOW = new Date("2026-12-06T09:00:00.000Z");
const TERMS: RetryTerms = {
  cascadeOn: [],
  maxAttempts: 3,
  samePspRetries: 1,
  backoffInitialMs: 2_000,
  backoffMultiplier: 2,
  backoffMaxMs: 600_000,
};
/** A payment whose PSP retries are immediate: what the terms say must not pace infrastructure retries. */
const IMMEDIATE: RetryTerms = { ...TERMS, backoffInitialMs: 0, backoffMultiplier: 1, backoffMaxMs: 0 };
const exhausted = deadLetter("retries_exhausted", `still retrying after ${MAX} deliveries`);
const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();

type Row = [
  what: string,
  outcome: Outcome,
  deliveryCount: number,
  terms: RetryTerms | undefined,
  fate: Disposition,
];

const poisons: Row[] = Object.values(PoisonReason).flatMap((reason): Row[] => [
  [`poison (${reason})`, { kind: "poison", reason, error: "e" }, 1, TERMS, deadLetter(reason, "e")],
  [
    `poison (${reason}) at max_deliver keeps its reason`,
    { kind: "poison", reason, error: "e" },
    MAX,
    TERMS,
    deadLetter(reason, "e"),
  ],
]);

const TABLE: Row[] = [
  ["done", { kind: "done" }, 1, TERMS, ack],
  ["done at max_deliver", { kind: "done" }, MAX, TERMS, ack],
  ["PSP wait: the payment's backoff", { kind: "waits_on_psp", janitor: false }, 1, TERMS, nak(2_000)],
  ["PSP wait, third delivery", { kind: "waits_on_psp", janitor: false }, 3, TERMS, nak(8_000)],
  ["PSP wait, capped at 60 s", { kind: "waits_on_psp", janitor: false }, MAX - 1, TERMS, nak(60_000)],
  [
    "PSP wait, immediate terms: the 1 s floor",
    { kind: "waits_on_psp", janitor: false },
    5,
    IMMEDIATE,
    nak(1_000),
  ],
  ["PSP wait without terms", { kind: "waits_on_psp", janitor: false }, 2, undefined, nak(2_000)],
  ["PSP wait at max_deliver", { kind: "waits_on_psp", janitor: false }, MAX, TERMS, exhausted],
  ["PSP wait of a resume: the janitor's", { kind: "waits_on_psp", janitor: true }, 1, TERMS, ack],
  ["PSP wait of a resume at max_deliver", { kind: "waits_on_psp", janitor: true }, MAX, TERMS, ack],
  [
    "PSP backoff: the time left to notBefore",
    { kind: "backoff", notBefore: at(1_500), now: NOW },
    2,
    TERMS,
    nak(1_500),
  ],
  ["PSP backoff already due", { kind: "backoff", notBefore: at(-10), now: NOW }, 2, TERMS, nak(0)],
  ["PSP backoff at max_deliver", { kind: "backoff", notBefore: at(1_500), now: NOW }, MAX, TERMS, exhausted],
  ["retry (NATS, Redis, a socket): 1 s first", { kind: "retry" }, 1, TERMS, nak(1_000)],
  ["retry below max_deliver: doubled per delivery", { kind: "retry" }, 5, TERMS, nak(16_000)],
  ["retry: not paced by the payment's PSP terms", { kind: "retry" }, 5, IMMEDIATE, nak(16_000)],
  ["retry of a payment not in memory", { kind: "retry" }, 5, undefined, nak(16_000)],
  ["retry, capped at 60 s", { kind: "retry" }, MAX - 1, TERMS, nak(60_000)],
  ["retry at max_deliver", { kind: "retry" }, MAX, TERMS, exhausted],
  ["fenced every round", { kind: "fenced" }, 1, TERMS, nak(FENCED_RETRY_MS)],
  ["fenced at max_deliver", { kind: "fenced" }, MAX, TERMS, exhausted],
  ...poisons,
  ["actor did not answer", { kind: "no_answer" }, 1, undefined, nak(1_000)],
  ["actor did not answer, third delivery", { kind: "no_answer" }, 3, undefined, nak(4_000)],
  ["actor did not answer at max_deliver", { kind: "no_answer" }, MAX, undefined, exhausted],
  ["consumer: handler threw", { kind: "handler_failed" }, 1, undefined, nak(1_000)],
  ["consumer: handler threw, second delivery", { kind: "handler_failed" }, 2, undefined, nak(2_000)],
  ["consumer: handler threw at max_deliver", { kind: "handler_failed" }, MAX, undefined, exhausted],
  [
    "consumer: dead letter not stored",
    { kind: "dead_letter_unstored" },
    1,
    undefined,
    nak(DEAD_LETTER_UNSTORED_RETRY_MS),
  ],
  // A dead letter is what failed: only a nak leaves the command in the stream.
  [
    "consumer: dead letter not stored at max_deliver",
    { kind: "dead_letter_unstored" },
    MAX,
    undefined,
    nak(DEAD_LETTER_UNSTORED_RETRY_MS),
  ],
];

describe("a message's fate (dispositionFor)", () => {
  for (const [what, outcome, deliveryCount, terms, fate] of TABLE)
    it(`${what}, delivery ${deliveryCount} of ${MAX} → ${fate.kind}`, () => {
      expect(dispositionFor(outcome, { deliveryCount, maxDeliver: MAX }, terms)).to.deep.equal(fate);
    });

  it("has a row for every outcome and every poison reason", () => {
    // A new outcome kind fails to compile here until it is listed, and then this test until it has a row.
    const kinds: Record<Outcome["kind"], true> = {
      done: true,
      waits_on_psp: true,
      backoff: true,
      retry: true,
      fenced: true,
      poison: true,
      no_answer: true,
      handler_failed: true,
      dead_letter_unstored: true,
    };
    const rows = new Set(TABLE.map(([, o]) => o.kind));
    expect([...rows].sort()).to.deep.equal(Object.keys(kinds).sort());
    const reasons = new Set(TABLE.flatMap(([, o]) => (o.kind === "poison" ? [o.reason] : [])));
    expect([...reasons].sort()).to.deep.equal(Object.values(PoisonReason).sort());
  });

  it("names every dead-letter reason in docs/failures.md, which operators read to act on one", () => {
    // GET /ops/dead-letters describes its reasons from DEAD_LETTER_REASONS; the prose is written by hand.
    const doc = readFileSync(new URL("../../docs/failures.md", import.meta.url), "utf8");
    const missing = DEAD_LETTER_REASONS.filter((r) => !doc.includes(`\`${r}\``));
    expect(missing).to.deep.equal([]);
    expect(DEAD_LETTER_REASONS).to.include("retries_exhausted");
  });
});
