// A worker process killed with SIGKILL in the middle of authorizations, then restarted: every
// payment must end in the right state, charged exactly once. The worker runs as a real child
// process; gateway and PSP sandbox run in the test process.
import { expect } from "chai";
import { startSandbox, type Sandbox } from "../../scripts/sandbox-psp.ts";
import {
  cleanupRun,
  paymentBody,
  startTestPlatform,
  testEnv,
  type Api,
  type ApiResponse,
  type TestPlatform,
} from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";
import { startWorkerProcess, type WorkerProcess } from "../support/worker-process.ts";

describe("a worker killed mid-authorization (e2e)", function () {
  this.timeout(120_000);
  let sandbox: Sandbox;
  let gateway: TestPlatform;
  let env: Record<string, string>;
  let api: Api;
  const workers: WorkerProcess[] = [];

  before(async () => {
    // Slow PSPs, so that many authorizations are in flight when the worker dies.
    sandbox = await startSandbox({ port: 0, latencyMs: 400 });
    env = testEnv({
      SANDBOX_URL: sandbox.url,
      SWITCHYARD_COMMAND_ACK_WAIT_MS: "2000",
      SWITCHYARD_REPLY_WAIT_MS: "500",
      SWITCHYARD_PSP_TIMEOUT_MS: "3000",
      SANDBOX_SLOW_CARD_DELAY_MS: "6000",
    });
    gateway = await startTestPlatform({ env, roles: ["gateway"] });
    api = gateway.api(gateway.merchants[0]!);
  });

  after(async () => {
    for (const w of workers) w.kill();
    await gateway.stop();
    await sandbox.close();
    await cleanupRun(env);
  });

  it("ends every payment in the right state, charged exactly once", async () => {
    const first = startWorkerProcess(env, "worker-1");
    workers.push(first);
    await first.ready;

    const cards = ["4242424242424242", "4000000000009995", "4000000000003220"];
    const expected: Record<string, string> = {
      "4242424242424242": "captured",
      "4000000000009995": "declined",
      "4000000000003220": "requires_action",
    };
    const requests = Array.from({ length: 24 }, (_, i) => {
      const number = cards[i % cards.length]!;
      return { number, key: `crash-${i}` };
    });
    // Four clients, each sending its next payment when the previous one was answered: when the
    // worker dies, some authorizations are at the PSP and others not yet sent.
    const answers: Array<Promise<ApiResponse>> = [];
    const clients = [0, 1, 2, 3].map(async (c) => {
      for (let i = c; i < requests.length; i += 4) {
        const r = requests[i]!;
        answers[i] = api.post("/v1/payments", paymentBody({ number: r.number, capture: "automatic" }), r.key);
        await answers[i];
      }
    });

    // Kill the worker once the PSPs have started charging, while others are still in flight.
    await waitFor(() => sandbox.charges().length >= 3, { timeoutMs: 20_000, what: "first charges" });
    first.child.kill("SIGKILL");
    await first.exited;
    const chargedAtKill = sandbox.charges();
    expect(chargedAtKill.length).to.be.lessThan(requests.length);
    // The hard case is really exercised: the PSP charged, but the dead worker never recorded it.
    const unrecorded = [];
    for (const c of chargedAtKill) {
      const res = await api.get(`/v1/payments/${c.reference}`);
      if (res.body?.status === "authorizing") unrecorded.push(c.reference);
    }
    expect(unrecorded, "charges the dead worker did not record").not.to.be.empty;

    const second = startWorkerProcess(env, "worker-2");
    workers.push(second);
    await second.ready;

    await Promise.all(clients);
    const created = await Promise.all(answers);
    for (const res of created) expect(res.status).to.be.oneOf([201, 202]);
    const ids = created.map((res) => res.body.id);
    for (const [i, id] of ids.entries()) {
      const want = expected[requests[i]!.number]!;
      const final = await waitFor(
        async () => {
          const res = await api.get(`/v1/payments/${id}`);
          return res.status === 200 && res.body.status === want ? res.body : undefined;
        },
        { timeoutMs: 40_000, what: `payment ${id} to become ${want}` },
      );
      expect(final.status).to.equal(want);
      expect(sandbox.charges({ reference: id }), `charges of ${id}`).to.have.length(1);
    }
    expect(sandbox.charges()).to.have.length(requests.length);
  });
});
