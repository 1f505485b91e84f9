// The decomposition's arithmetic (scripts/bench/decompose.ts): what it reads from a child bench's
// BENCH_RESULT line, and the same-round ratios the README's argument about the CPU target rests on.
import { expect } from "chai";
import { phaseOf, splitOf } from "../../scripts/bench/decompose.ts";
import { median } from "../../scripts/bench/figures.ts";

const result = (flow: "bare" | "product", f: Record<string, unknown> | null) =>
  `bench: some progress\nBENCH_RESULT ${JSON.stringify({ mode: "closed", bare: null, product: null, [flow]: f })}\n`;

const flowOf = (perSecond: number, cpuMsPerPayment: number, cores: [number, number, number], errors = 0) => ({
  perSecond,
  latencyMs: { p50: 12.5 },
  cpuMsPerPayment,
  errors,
  rounds: [{ cpu: { processCores: cores[0], natsServerCores: cores[1], otherCores: cores[2] } }],
});

describe("bench decomposition", () => {
  it("reads a phase from the flow's BENCH_RESULT, with the machine's CPU per payment", () => {
    const p = phaseOf(result("bare", flowOf(2000, 0.4, [0.8, 0.6, 0.2])), "bare");
    expect(p).to.include({ perSecond: 2000, p50Ms: 12.5, cpuMs: 0.4 });
    // (0.8 + 0.6 + 0.2) cores over 2,000 payments a second.
    expect(p?.machineCpuMs).to.be.closeTo(0.8, 1e-9);
  });

  it("reads nothing from a run that errored, ran no payment, or printed no result for that flow", () => {
    expect(phaseOf(result("bare", flowOf(2000, 0.4, [0.8, 0.6, 0.2], 3)), "bare")).to.equal(undefined);
    expect(phaseOf(result("bare", flowOf(0, 0.4, [0.8, 0.6, 0.2])), "bare")).to.equal(undefined);
    expect(phaseOf(result("bare", flowOf(2000, 0.4, [0.8, 0.6, 0.2])), "product")).to.equal(undefined);
    expect(phaseOf("bench: failed\n", "product")).to.equal(undefined);
  });

  it("splits the product's CPU into the payment path and the followers, each ÷ the bare flow's", () => {
    const s = splitOf({
      bare: { perSecond: 2000, p50Ms: 10, cpuMs: 0.4, machineCpuMs: 0.8 },
      product: { perSecond: 500, p50Ms: 40, cpuMs: 1.6, machineCpuMs: 3.2 },
      "no-endpoint": { perSecond: 625, p50Ms: 35, cpuMs: 1.4, machineCpuMs: 2.8 },
      "no-followers": { perSecond: 800, p50Ms: 30, cpuMs: 1.2, machineCpuMs: 2.0 },
    });
    expect(s.rate).to.be.closeTo(0.25, 1e-9);
    expect(s.cpu).to.be.closeTo(4, 1e-9);
    expect(s.path).to.be.closeTo(3, 1e-9);
    expect(s.followers).to.be.closeTo(1, 1e-9);
    // Of the followers' 1 ×, the endpoint's deliveries: (1.6 − 1.4) ÷ 0.4; the rate with it ÷ without.
    expect(s.endpoint).to.be.closeTo(0.5, 1e-9);
    expect(s.endpointRate).to.be.closeTo(0.8, 1e-9);
    // The two parts add up to the whole, whatever the figures.
    expect(s.path + s.followers).to.be.closeTo(s.cpu, 1e-9);
    expect(s.machineCpu).to.be.closeTo(4, 1e-9);
    expect(s.machinePath).to.be.closeTo(2.5, 1e-9);
    expect(s.machineFollowers).to.be.closeTo(1.5, 1e-9);
  });

  it("takes the median of odd and even counts", () => {
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
  });
});
