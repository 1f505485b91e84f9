// The policy store and the ops board on real NATS JetStream KV, each test run in buckets of its own.
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import type { WorkerReport } from "../../actors/policy/core/reports.ts";
import { OpsBoard } from "../../streams/ops-board.ts";
import {
  PolicyStore,
  PolicyStoreError,
  type PolicyChange,
  type PolicyView,
} from "../../actors/policy/store.ts";
import { NATS_URL, uniquePrefix } from "../support/infra.ts";
import { waitFor } from "../support/wait.ts";
import { DEFAULTS, routing } from "./ops-harness.ts";

async function expectRefusal(p: Promise<unknown>, code: string): Promise<PolicyStoreError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(PolicyStoreError);
    expect((err as PolicyStoreError).code).to.equal(code);
    return err as PolicyStoreError;
  }
  expect.fail(`expected a ${code} refusal`);
}

/** Resolves with the first change `view` reports that satisfies `match`. */
function nextChange(view: PolicyView, match: (c: PolicyChange) => boolean): Promise<PolicyChange> {
  return new Promise((resolve) => {
    const off = view.onChange((c) => {
      if (!match(c)) return;
      off();
      resolve(c);
    });
  });
}

describe("policy store", function () {
  let nc: NatsConnection;
  let js: JetStreamClient;
  let store: PolicyStore;
  const opened: PolicyStore[] = [];

  async function open(prefix: string): Promise<PolicyStore> {
    const s = await new PolicyStore(js, prefix).ensure();
    opened.push(s);
    return s;
  }

  before(async () => {
    nc = await connect({ servers: NATS_URL });
    js = jetstream(nc);
  });
  beforeEach(async () => {
    store = await open(uniquePrefix());
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.destroy().catch(() => undefined);
  });
  after(async () => {
    await nc.close();
  });

  it("names its bucket after the run prefix", () => {
    expect(new PolicyStore(js, "t1").bucket).to.equal("t1_policies");
    expect(new PolicyStore(js, "").bucket).to.equal("policies");
  });

  it("numbers uploads 1, 2, 3 and keeps every version with its metadata", async () => {
    const v1 = await store.upload("routing", routing(["acme"]), { uploadedBy: "alice", comment: "first" });
    const v2 = await store.upload("routing", routing(["bolt"]));
    const v3 = await store.upload("routing", routing(["acme", "bolt"]), { uploadedBy: "bob" });
    expect([v1, v2, v3]).to.deep.equal([1, 2, 3]);
    const list = await store.list("routing");
    expect(list.map((v) => [v.version, v.uploadedBy, v.comment, v.active])).to.deep.equal([
      [1, "alice", "first", false],
      [2, undefined, undefined, false],
      [3, "bob", undefined, false],
    ]);
    expect((await store.get("routing", 2))?.document.fallback).to.deep.equal(["bolt"]);
    expect(await store.get("routing", 4)).to.equal(undefined);
    expect(await store.list("fees")).to.deep.equal([]);
  });

  it("gives racing uploads distinct, consecutive versions", async () => {
    const other = await new PolicyStore(js, store.bucket.replace(/_policies$/, "")).ensure();
    const docs = Array.from({ length: 6 }, (_, i) => routing(["acme"], `upload ${i}`));
    const versions = await Promise.all(
      docs.map((doc, i) => (i % 2 === 0 ? store : other).upload("routing", doc, { comment: `c${i}` })),
    );
    expect([...versions].sort((a, b) => a - b)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    for (const [i, version] of versions.entries()) {
      const stored = await store.get("routing", version);
      expect(stored?.comment).to.equal(`c${i}`);
      expect(stored?.document.description).to.equal(`upload ${i}`);
    }
  });

  it("activates a version, and rolls back through the activation log until there is none before", async () => {
    for (let i = 0; i < 3; i++) await store.upload("routing", routing(["acme"], `v${i + 1}`));
    await store.activate("routing", 1, { by: "alice" });
    await store.activate("routing", 2);
    await store.activate("routing", 3);
    await store.activate("routing", 3); // already active: no new log entry
    expect((await store.activeVersion("routing"))?.version).to.equal(3);
    expect((await store.activations("routing")).map((a) => a.version)).to.deep.equal([1, 2, 3]);
    expect((await store.list("routing")).map((v) => v.active)).to.deep.equal([false, false, true]);

    expect((await store.rollback("routing", { by: "bob" })).version).to.equal(2);
    expect((await store.rollback("routing")).version).to.equal(1);
    await expectRefusal(store.rollback("routing"), "no_previous_version");
    expect((await store.activeVersion("routing"))?.version).to.equal(1);
    const log = await store.activations("routing");
    expect(log.map((a) => `${a.op}:${a.version}`)).to.deep.equal([
      "activate:1",
      "activate:2",
      "activate:3",
      "rollback:2",
      "rollback:1",
    ]);
    expect(log[0]?.by).to.equal("alice");
    expect(log[3]?.by).to.equal("bob");
  });

  it("refuses to activate a version that does not exist, and lets a guard refuse one", async () => {
    await expectRefusal(store.activate("fees", 7), "policy_version_not_found");
    await store.upload("fees", DEFAULTS.fees);
    const refused = new Error("names a PSP that is gone");
    try {
      await store.activate("fees", 1, {
        guard: () => {
          throw refused;
        },
      });
      expect.fail("the guard did not stop the activation");
    } catch (err) {
      expect(err).to.equal(refused);
    }
    expect(await store.activeVersion("fees")).to.equal(undefined);
  });

  it("seeds defaults once, whether started twice in a row or by three processes at once", async () => {
    await store.seedDefaults(DEFAULTS);
    await store.seedDefaults(DEFAULTS);
    const prefix = uniquePrefix();
    const racers = await Promise.all([open(prefix), open(prefix), open(prefix)]);
    await Promise.all(racers.map((s) => s.seedDefaults(DEFAULTS)));
    for (const s of [store, racers[0]]) {
      for (const kind of ["routing", "fees", "retries"] as const) {
        expect(
          (await s.list(kind)).map((v) => v.version),
          kind,
        ).to.deep.equal([1]);
        expect(
          (await s.activations(kind)).map((a) => a.op),
          kind,
        ).to.deep.equal(["seed"]);
      }
    }
    expect((await racers[1].get("fees", 1))?.document).to.deep.equal(DEFAULTS.fees);
  });

  it("leaves a seeded bucket alone: later defaults do not replace the active versions", async () => {
    await store.seedDefaults(DEFAULTS);
    await store.upload("routing", routing(["bolt"]));
    await store.activate("routing", 2);
    await store.seedDefaults({ ...DEFAULTS, routing: routing(["acme"]) });
    expect((await store.activeVersion("routing"))?.version).to.equal(2);
    expect((await store.list("routing")).length).to.equal(2);
  });

  describe("live view", () => {
    it("serves the active policies synchronously and sees its own store's activation at once", async () => {
      await store.seedDefaults(DEFAULTS);
      const view = await store.watch();
      try {
        expect(view.active("routing")).to.deep.equal({ version: 1, policy: DEFAULTS.routing });
        expect(view.active("retries").policy.max_attempts).to.equal(3);
        await store.upload("routing", routing(["bolt"]));
        await store.activate("routing", 2);
        expect(view.active("routing").version).to.equal(2);
        expect(view.active("routing").policy.fallback).to.deep.equal(["bolt"]);
        expect((await view.version("routing", 1)).policy).to.deep.equal(DEFAULTS.routing);
        expect(view.shadow()).to.equal(undefined);
        expect([...view.forcedOut()]).to.deep.equal([]);
      } finally {
        view.close();
      }
    });

    it("sees a change made by another store instance through the watch", async () => {
      await store.seedDefaults(DEFAULTS);
      const view = await store.watch();
      const other = await new PolicyStore(js, store.bucket.replace(/_policies$/, "")).ensure();
      try {
        await other.upload("fees", DEFAULTS.fees, { comment: "same again" });
        const activated = nextChange(view, (c) => c.type === "active" && c.kind === "fees");
        await other.activate("fees", 2);
        expect(await activated).to.deep.equal({ type: "active", kind: "fees", version: 2 });
        expect(view.active("fees").version).to.equal(2);

        const forcedOut = nextChange(view, (c) => c.type === "rotation");
        await other.setRotation("acme", false, { reason: "incident 42", by: "alice" });
        await forcedOut;
        expect([...view.forcedOut()]).to.deep.equal(["acme"]);

        await other.upload("routing", routing(["bolt"]));
        const shadowed = nextChange(view, (c) => c.type === "shadow");
        await other.setShadow(2);
        await shadowed;
        expect(view.shadow()?.version).to.equal(2);
      } finally {
        view.close();
      }
    });

    it("waits for seeding when started on an empty bucket", async () => {
      const waiting = store.watch();
      await store.seedDefaults(DEFAULTS);
      const view = await waiting;
      expect(view.active("fees").version).to.equal(1);
      view.close();
    });
  });

  it("keeps one shadow routing version, never the active one, until promoted or cleared", async () => {
    await store.seedDefaults(DEFAULTS);
    const view = await store.watch();
    try {
      await store.upload("routing", routing(["bolt"]));
      await expectRefusal(store.setShadow(1), "shadow_is_active");
      await expectRefusal(store.setShadow(9), "policy_version_not_found");
      await expectRefusal(store.promoteShadow(), "no_shadow_version");
      await store.setShadow(2, { by: "alice" });
      expect((await store.shadowSetting())?.version).to.equal(2);
      expect(view.shadow()?.version).to.equal(2);
      expect((await store.list("routing")).map((v) => v.shadow)).to.deep.equal([false, true]);

      const promoted = await store.promoteShadow({ by: "bob" });
      expect(promoted).to.include({ version: 2, op: "promote", by: "bob" });
      expect(await store.shadowSetting()).to.equal(undefined);
      expect(view.active("routing").version).to.equal(2);
      expect(view.shadow()).to.equal(undefined);

      await store.setShadow(1);
      await store.setShadow(null);
      expect(await store.shadowSetting()).to.equal(undefined);
      expect(view.shadow()).to.equal(undefined);
    } finally {
      view.close();
    }
  });

  it("records operators' rotation overrides per PSP", async () => {
    expect((await store.rotations()).size).to.equal(0);
    await store.setRotation("acme", false, { reason: "outage", by: "alice" });
    await store.setRotation("bolt", false);
    await store.setRotation("bolt", true, { by: "bob" });
    const rotations = await store.rotations();
    expect(rotations.get("acme")).to.include({ in: false, reason: "outage", by: "alice" });
    expect(rotations.get("bolt")).to.include({ in: true, by: "bob" });
  });
});

/** Tells the test when a report has been written, not merely produced. */
class WatchedBoard extends OpsBoard {
  readonly written: WorkerReport[] = [];
  #waiters: Array<() => void> = [];

  override async publish(report: WorkerReport): Promise<void> {
    await super.publish(report);
    this.written.push(report);
    for (const w of this.#waiters.splice(0)) w();
  }

  async writes(count: number): Promise<void> {
    while (this.written.length < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}

describe("ops board", function () {
  let nc: NatsConnection;
  let board: WatchedBoard;

  const EMPTY_SHADOW = {
    version: 2,
    activeVersions: [1],
    decisions: 0,
    divergedPsp: 0,
    divergedFee: 0,
    samples: [],
  };
  function report(workerId: string, n = 0): WorkerReport {
    return { workerId, at: new Date().toISOString(), psps: [], shadow: [{ ...EMPTY_SHADOW, decisions: n }] };
  }

  beforeEach(async () => {
    nc = await connect({ servers: NATS_URL });
    board = await new WatchedBoard(jetstream(nc), uniquePrefix(), { ttlMs: 60_000 }).ensure();
  });
  afterEach(async () => {
    await board.destroy();
    await nc.close();
  });

  it("names its bucket after the run prefix", () => {
    expect(new OpsBoard(jetstream(nc), "t1").bucket).to.equal("t1_ops");
  });

  it("keeps each worker's latest report", async () => {
    expect(await board.read()).to.deep.equal([]);
    await board.publish(report("w-b", 1));
    await board.publish(report("w-a", 1));
    await board.publish(report("w-b", 2));
    const reports = await board.read();
    expect(reports.map((r) => [r.workerId, r.shadow[0]?.decisions])).to.deep.equal([
      ["w-a", 1],
      ["w-b", 2],
    ]);
    await board.remove("w-a");
    expect((await board.read()).map((r) => r.workerId)).to.deep.equal(["w-b"]);
  });

  it("publishes right away, again on poke, survives a failing producer, and leaves the board on stop", async () => {
    let n = 0;
    let failed: (() => void) | undefined;
    const produce = () => {
      if (failed) {
        failed();
        failed = undefined;
        throw new Error("cannot report");
      }
      return report("w-1", ++n);
    };
    const publisher = board.startPublishing("w-1", produce, 60_000, { minGapMs: 0 });
    await board.writes(1);
    // The producer throws: logged, never thrown into the caller, and the publisher carries on.
    await new Promise<void>((resolve) => {
      failed = resolve;
      publisher.poke();
    });
    publisher.poke();
    await board.writes(2);
    expect((await board.read()).map((r) => [r.workerId, r.shadow[0]?.decisions])).to.deep.equal([["w-1", 2]]);
    await publisher.stop();
    expect(await board.read()).to.deep.equal([]);
  });

  it("skips a report that says nothing new, and still refreshes it before its TTL", async () => {
    const short = await new WatchedBoard(jetstream(nc), uniquePrefix(), { ttlMs: 2_000 }).ensure();
    try {
      let produced = 0;
      const publisher = short.startPublishing("w-1", () => (produced++, report("w-1", 1)), 100, {
        minGapMs: 0,
      });
      await short.writes(1);
      // Unchanged: produced every 100 ms, put again only once 500 ms (a quarter of the TTL) passed.
      await waitFor(() => produced >= 12, { timeoutMs: 5_000, what: "a dozen reports produced" });
      expect(short.written.length, "puts of an unchanged report").to.be.within(1, 4);
      await short.writes(short.written.length + 1);
      await publisher.stop();
    } finally {
      await short.destroy();
    }
  });
});
