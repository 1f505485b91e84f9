// The projections thread's start (actors/projections-thread.ts) when the thread cannot start: its
// error is the start's, as the projections' own would be in the process, and nothing keeps running.
import { expect } from "chai";
import pino from "pino";
import { loadConfig } from "../../config/env.ts";
import { createMetrics } from "../../config/metrics.ts";
import { projectionsThreadsAlive, startProjectionsThread } from "../../actors/projections-thread.ts";
import { DATABASE_URL } from "../support/infra.ts";
import { cleanupRun, testEnv } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

describe("the projections thread's start (int)", function () {
  this.timeout(30_000);
  // The thread opens NATS before PostgreSQL refuses it: the run's streams and buckets exist by then.
  const env = testEnv({ DATABASE_URL: "postgres://postgres@127.0.0.1:1/postgres" });
  after(() => cleanupRun({ ...env, DATABASE_URL }));

  it("fails with the thread's own error when it cannot open its connections, and leaves no thread", async () => {
    // Nothing listens on port 1: the thread's PostgreSQL connection is refused.
    const config = loadConfig(env);
    expect(projectionsThreadsAlive()).to.equal(0);
    const err = await startProjectionsThread(config, {
      cardKey: Buffer.alloc(32, 7),
      sandboxUrl: "http://127.0.0.1:1",
      metrics: createMetrics(),
      log: pino({ level: "silent" }),
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err, "the start failed").to.be.instanceOf(Error);
    expect(err!.message).to.match(/ECONNREFUSED|connect/i);
    // The failed thread is ended, not left open (its exit is the event waited for).
    await waitFor(() => projectionsThreadsAlive() === 0, {
      timeoutMs: 5_000,
      what: "the failed thread's exit",
    });
  });
});
