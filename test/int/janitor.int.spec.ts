// The janitor against real JetStream: it notices a payment whose last frame left an effect open,
// re-drives it with a ResumePayment command once it has been open past the threshold, lets a
// payment go once a closing frame arrives, and after a restart rebuilds the same picture from its
// KV checkpoint.
import { Kvm } from "@nats-io/kv";
import { expect } from "chai";
import { Janitor, janitorBucketName } from "../../actors/janitor.ts";
import type { PaymentEvent } from "../../actors/payment/core/events.ts";
import { Journal } from "../../actors/payment/journal.ts";
import { SCHEMA_VERSION } from "../../actors/payment/core/state.ts";
import { EventStore } from "../../streams/event-store.ts";
import { SnapshotStore } from "../../streams/snapshots.ts";
import { snapshotKey, topology } from "../../streams/topology.ts";
import { paymentCreated } from "../support/events.ts";
import { openInfra, type Infra } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";

const at = new Date().toISOString();

function opened(paymentId: string): PaymentEvent[] {
  return [
    paymentCreated(paymentId, at),
    { type: "PaymentRouted", strategy: "priority", candidates: ["acme"], at },
    { type: "AuthorizationRequested", attemptNo: 1, psp: "acme", idempotencyKey: `${paymentId}.a1`, at },
  ];
}

describe("janitor (real JetStream)", function () {
  this.timeout(30_000);
  let infra: Infra;
  let store: EventStore;
  let journal: Journal;

  before(async () => {
    infra = await openInfra();
    // A short threshold for the test: a payment open for 300 ms is re-driven.
    infra.topo = topology(infra.prefix, infra.topo.partitions, { janitorAfterMs: 300 });
    store = new EventStore(infra.js, infra.jsm, infra.topo, infra.metrics);
    const snapshots = new SnapshotStore(
      infra.redis,
      (id) => snapshotKey(infra.topo, id),
      infra.log,
      infra.metrics,
      SCHEMA_VERSION,
    );
    journal = new Journal(store, snapshots);
  });
  after(async () => {
    await infra.jsm.streams.delete(`KV_${janitorBucketName(infra.prefix)}`).catch(() => undefined);
    await infra.close();
  });

  const janitor = () =>
    new Janitor({
      js: infra.js,
      topo: infra.topo,
      journal,
      metrics: infra.metrics,
      log: infra.log,
      now: Date.now,
    });

  /** ResumePayment commands on PAY_CMD for this payment so far. */
  async function resumes(paymentId: string): Promise<number> {
    const info = await infra.jsm.streams.info(infra.topo.commandStream, { subjects_filter: `>` });
    return Object.entries(info.state.subjects ?? {})
      .filter(([s]) => s.endsWith(`.${paymentId}`))
      .reduce((n, [, c]) => n + c, 0);
  }

  it("re-drives a payment left open, and lets go of one that closes", async () => {
    const j = janitor();
    await j.start();
    try {
      const { seq: openSeq } = await journal.append(
        "pay_open",
        { lastSeq: 0, eventNo: 0 },
        opened("pay_open"),
      );
      const { seq: closingSeq } = await journal.append(
        "pay_done",
        { lastSeq: 0, eventNo: 0 },
        opened("pay_done"),
      );
      await journal.append("pay_done", { lastSeq: closingSeq, eventNo: 3 }, [
        { type: "PaymentAuthorized", attemptNo: 1, pspReference: "ch_1", captured: false, at },
      ]);
      expect(openSeq).to.be.greaterThan(0);
      await waitFor(async () => (await resumes("pay_open")) >= 1, {
        timeoutMs: 10_000,
        what: "a ResumePayment for the open payment",
      });
      expect(await resumes("pay_done")).to.equal(0);
      expect(j.unresolved).to.equal(1);
    } finally {
      await j.stop();
    }
  });

  it("after a restart, finds the open payment again from its checkpoint", async () => {
    const j = janitor();
    await j.start();
    try {
      await waitFor(() => j.unresolved === 1 || undefined, {
        timeoutMs: 10_000,
        what: "the restarted janitor to see the open payment",
      });
    } finally {
      await j.stop();
    }
    const saved = await new Kvm(infra.js).open(janitorBucketName(infra.prefix));
    const checkpoint = Number((await saved.get("checkpoint"))?.string());
    const firstFrame = await store.last("pay_open");
    // Nothing before the open frame needs reading again; the open frame itself does.
    expect(checkpoint).to.be.lessThan(firstFrame!.seq);
  });
});
