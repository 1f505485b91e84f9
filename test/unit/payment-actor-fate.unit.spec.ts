// The payment actor hands every outcome to the one fate rule (actors/fate.ts). Here: a failure we
// cannot classify (NATS, Redis, a socket) waits as long whether the payment was in memory or not.
// It used to take the payment's PSP backoff when the payment was in memory (e.g. its last delivery
// was nak'd for a PSP wait): 1 s at any delivery under these terms or the default policy, where a
// payment not in memory waited 1 s doubled per delivery.
import { expect } from "chai";
import { createLogger } from "../../config/log.ts";
import { createMetrics } from "../../config/metrics.ts";
import { paymentBehaviour, type PaymentActorState, type PaymentOutcome } from "../../actors/payment/actor.ts";
import type { Journal } from "../../actors/payment/journal.ts";
import { cmd, history, stateOf, TERMS } from "./decider-spec.ts";

/** A journal whose every read and write fails as a lost NATS connection does. */
const down = (): Journal => {
  const fail = () => Promise.reject(new Error("CONNECTION_CLOSED"));
  return { load: fail, history: fail, append: fail, snapshot: fail } as unknown as Journal;
};

async function outcomeOf(self: PaymentActorState, deliveryCount: number): Promise<PaymentOutcome> {
  const behaviour = paymentBehaviour("pay_1", {
    journal: down(),
    connectors: new Map(),
    cardKeys: [],
    route: () => Promise.reject(new Error("not routed in this spec")),
    snapshotEvery: 100,
    metrics: createMetrics(),
    log: createLogger("silent"),
    now: () => new Date(),
  });
  let outcome: PaymentOutcome | undefined;
  await behaviour(
    self,
    {
      envelope: { v: 1, command: cmd.capture() } as never,
      meta: { traceparent: undefined, deliveryCount, maxDeliver: 20, subject: "cmd.0.pay_1", storedAtMs: 0 },
    },
    (o) => (outcome = o),
  );
  return outcome!;
}

describe("payment actor: the fate of a failure it cannot classify", () => {
  // The specs' terms have no backoff (initial 0 ms): PSP retries at once.
  expect(TERMS.backoffInitialMs).to.equal(0);
  const events = history.authorized();
  const inMemory: PaymentActorState = {
    loaded: {
      state: stateOf(...events),
      lastSeq: 4,
      lastHash: "h",
      eventNo: events.length,
      replayed: 0,
    },
    sinceSnapshot: 0,
  };
  const notInMemory: PaymentActorState = { loaded: undefined, sinceSnapshot: 0 };

  it("waits 1 s, doubled per delivery, whether the payment was in memory or not", async () => {
    for (const self of [inMemory, notInMemory]) {
      expect((await outcomeOf(self, 1)).disposition).to.deep.equal({ kind: "nak", delayMs: 1_000 });
      expect((await outcomeOf(self, 5)).disposition).to.deep.equal({ kind: "nak", delayMs: 16_000 });
    }
  });

  it("is dead-lettered as retries_exhausted on the last delivery", async () => {
    expect((await outcomeOf(inMemory, 20)).disposition).to.deep.include({
      kind: "dead_letter",
      reason: "retries_exhausted",
    });
  });
});
