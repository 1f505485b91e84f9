// An append while no JetStream server answers for the event stream — as during the election that
// follows the death of its leader (test/e2e/cluster-faults.e2e.spec.ts kills one on a real cluster).
// Here the stream is deleted and made again, on the one server: a publish to it meanwhile gets
// "no responders", as it does while no leader is elected. The append waits in the process and is
// stored once the stream answers again; past the store's bound it gives up (the command's
// redelivery takes over), having stored nothing.
import type { StreamConfig } from "@nats-io/jetstream";
import { expect } from "chai";
import { EventStore } from "../../streams/event-store.ts";
import { streamConfigs } from "../../streams/topology.ts";
import { paymentCreated } from "../support/events.ts";
import { openInfra, type Infra } from "../support/infra.ts";

describe("an event append while the event stream has no leader (real JetStream)", function () {
  this.timeout(20_000);
  let infra: Infra;
  let config: Partial<StreamConfig> & { name: string };

  before(async () => {
    infra = await openInfra();
    config = streamConfigs(infra.topo).find((c) => c.name === infra.topo.eventStream)!;
  });
  afterEach(async () => {
    // The stream back for the next test and for the cleanup.
    await infra.jsm.streams.add(config).catch(() => undefined);
  });
  after(async () => infra.close());

  const waits = async (outcome: string) =>
    (await infra.metrics.appendNoLeaderWaits.get()).values.find((v) => v.labels.outcome === outcome)?.value ??
    0;

  it("waits for the stream to answer again and stores the frame once", async () => {
    const store = new EventStore(infra.js, infra.jsm, infra.topo, infra.metrics, { noLeaderWaitMs: 10_000 });
    await infra.jsm.streams.delete(infra.topo.eventStream);
    const started = Date.now();
    const appending = store.append("pay_noleader1", { lastSeq: 0, eventNo: 0 }, [
      paymentCreated("pay_noleader1", new Date().toISOString()),
    ]);
    // Answering again after 700 ms: the append is still waiting, not failed.
    await new Promise((resolve) => setTimeout(resolve, 700));
    await infra.jsm.streams.add(config);
    const appended = await appending;
    expect(Date.now() - started).to.be.at.least(700);
    expect(appended.seq).to.equal(1);
    const info = await infra.jsm.streams.info(infra.topo.eventStream);
    expect(info.state.messages, "one frame stored").to.equal(1);
    expect(await waits("stored")).to.equal(1);
    expect(await waits("gave_up")).to.equal(0);
  });

  it("gives up past its bound, having stored nothing", async () => {
    const store = new EventStore(infra.js, infra.jsm, infra.topo, infra.metrics, { noLeaderWaitMs: 600 });
    await infra.jsm.streams.delete(infra.topo.eventStream);
    const started = Date.now();
    const err = await store
      .append("pay_noleader2", { lastSeq: 0, eventNo: 0 }, [
        paymentCreated("pay_noleader2", new Date().toISOString()),
      ])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const took = Date.now() - started;
    expect((err as Error | undefined)?.name).to.equal("JetStreamNotEnabled");
    expect(took).to.be.at.least(250);
    expect(took).to.be.below(3_000);
    expect(await waits("gave_up")).to.equal(1);
  });

  it("stops waiting as soon as the writer may no longer write (its lease lapsed meanwhile)", async () => {
    const store = new EventStore(infra.js, infra.jsm, infra.topo, infra.metrics, { noLeaderWaitMs: 10_000 });
    await infra.jsm.streams.delete(infra.topo.eventStream);
    let asked = 0;
    const started = Date.now();
    const err = await store
      .append(
        "pay_noleader3",
        { lastSeq: 0, eventNo: 0 },
        [paymentCreated("pay_noleader3", new Date().toISOString())],
        undefined,
        { mayStillWrite: () => ++asked < 2 },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((err as Error | undefined)?.name).to.equal("JetStreamNotEnabled");
    expect(asked).to.equal(2);
    expect(Date.now() - started).to.be.below(5_000);
  });
});
