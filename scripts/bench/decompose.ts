// `npm run bench -- --only decompose`: what the product's CPU per payment is made of, against the
// bare flow, in the same minutes. Four flows alternate, each phase a bench process of its own
// (`--only bare`, `--only product`, `--only product --no-endpoint`, and `--only product` with the
// followers off: SWITCHYARD_PROJECTIONS=off, SWITCHYARD_WEBHOOKS=off, `--no-endpoint`), so no flow's idle
// consumers or heap sit in another's process. Per round it reads each child's BENCH_RESULT line;
// the report gives the medians and, from the same rounds, the two figures issue 17's CPU target
// turns on: the payment path alone ÷ the bare flow, and the followers' CPU per payment (product −
// product without them) as a multiple of the bare flow's whole CPU per payment. With the followers
// in the payment's process, as `npm start` runs them, "CPU ≤ 2 × bare" holds only if the two sum
// to 2 or less. Machine CPU per payment (this process, nats-server and everything else running,
// from /proc) says the same for the throughput target on a saturated machine. The product without
// its endpoint splits the followers' share: what the one endpoint's deliveries cost, and the issue's
// webhooks figure (payments/s with the endpoint ÷ without) from the same rounds.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { NODE_FLAGS } from "../../config/node-flags.ts";
import { median } from "./figures.ts";
import { benchResultOf } from "./report.ts";
import type { ClosedLoopSectionOptions } from "./section.ts";

type DecomposeFlow = "bare" | "product" | "no-endpoint" | "no-followers";

const FLOWS: readonly DecomposeFlow[] = ["bare", "product", "no-endpoint", "no-followers"];

const LABEL: Record<DecomposeFlow, string> = {
  bare: "bare flow",
  product: "product (everything on, one endpoint)",
  "no-endpoint": "product, no webhook endpoint",
  "no-followers": "product, followers off",
};

/** One flow's phase, as its child reported it. */
export type Phase = {
  perSecond: number;
  p50Ms: number;
  /** The flow's process: process.cpuUsage() ÷ completed payments. */
  cpuMs: number;
  /** Process + nats-server + the rest of the machine (PSPs, PostgreSQL, receiver), ÷ payments. */
  machineCpuMs: number;
};

const BENCH = fileURLToPath(new URL("../bench.ts", import.meta.url));

/** The phase in a child's `BENCH_RESULT {json}` line; undefined when there is none or it failed. */
export function phaseOf(stdout: string, flow: "bare" | "product"): Phase | undefined {
  const result = benchResultOf(stdout);
  if (result === undefined) return undefined;
  const f = result[flow] as
    | {
        perSecond: number;
        latencyMs: { p50: number };
        cpuMsPerPayment: number;
        errors: number;
        rounds: { cpu: { processCores: number; natsServerCores: number; otherCores: number } }[];
      }
    | null
    | undefined;
  const cpu = f?.rounds[0]?.cpu;
  if (!f || !cpu || f.errors > 0 || f.perSecond <= 0) return undefined;
  const cores = cpu.processCores + cpu.natsServerCores + cpu.otherCores;
  return {
    perSecond: f.perSecond,
    p50Ms: f.latencyMs.p50,
    cpuMs: f.cpuMsPerPayment,
    machineCpuMs: (cores * 1000) / f.perSecond,
  };
}

function runChild(flow: DecomposeFlow, o: ClosedLoopSectionOptions): Promise<Phase> {
  const args = [
    ...NODE_FLAGS,
    "--import",
    "tsx",
    BENCH,
    "--only",
    flow === "bare" ? "bare" : "product",
    "--rounds",
    "1",
    "--duration",
    String(o.durationS),
    "--warmup",
    String(o.warmupS),
    "--clients",
    String(o.concurrency),
    "--settlement-lines",
    "0",
    ...(flow === "no-followers" || flow === "no-endpoint" ? ["--no-endpoint"] : []),
  ];
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The parent's own settings must not leak into the child's choice of flow, nor take the endpoint
  // from the flows that have one (SWITCHYARD_* still tune the product, as in any bench run).
  delete env.BENCH_ONLY;
  delete env.BENCH_ENDPOINT;
  if (flow === "no-followers") {
    env.SWITCHYARD_PROJECTIONS = "off";
    env.SWITCHYARD_WEBHOOKS = "off";
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      const phase = code === 0 ? phaseOf(out, flow === "bare" ? "bare" : "product") : undefined;
      if (phase) resolve(phase);
      else
        reject(
          new Error(
            `the ${LABEL[flow]} phase failed (exit ${String(code)}):\n${err.split("\n").slice(-15).join("\n")}`,
          ),
        );
    });
  });
}

/** Per round, the figures the CPU target turns on (the report takes their medians). */
export type Split = {
  /** product ÷ bare, payments per second. */
  rate: number;
  /** product CPU per payment ÷ bare's. */
  cpu: number;
  /** The payment path alone (followers off) ÷ bare, CPU per payment. */
  path: number;
  /** The followers' CPU per payment (product − followers off) ÷ bare's whole CPU per payment. */
  followers: number;
  /** Of the followers: the one endpoint's deliveries (product − product without it) ÷ bare's. */
  endpoint: number;
  /** The webhooks figure in the same round: payments/s with the endpoint ÷ without it. */
  endpointRate: number;
  /** As `cpu`, `path` and `followers`, for the machine's CPU per payment. */
  machineCpu: number;
  machinePath: number;
  machineFollowers: number;
};

export function splitOf(r: Record<DecomposeFlow, Phase>): Split {
  const { bare, product, "no-endpoint": quiet, "no-followers": off } = r;
  return {
    rate: product.perSecond / bare.perSecond,
    cpu: product.cpuMs / bare.cpuMs,
    path: off.cpuMs / bare.cpuMs,
    followers: (product.cpuMs - off.cpuMs) / bare.cpuMs,
    endpoint: (product.cpuMs - quiet.cpuMs) / bare.cpuMs,
    endpointRate: product.perSecond / quiet.perSecond,
    machineCpu: product.machineCpuMs / bare.machineCpuMs,
    machinePath: off.machineCpuMs / bare.machineCpuMs,
    machineFollowers: (product.machineCpuMs - off.machineCpuMs) / bare.machineCpuMs,
  };
}

export async function decomposeSection(o: ClosedLoopSectionOptions): Promise<number> {
  o.say(
    `decomposition: ${o.rounds} round(s) of ${FLOWS.map((f) => LABEL[f]).join(", then ")}; ` +
      `each phase a bench process of its own, ${o.concurrency} client(s), ${o.warmupS} s warm-up (the child's first: at least 5) + ${o.durationS} s`,
  );
  const rounds: Record<DecomposeFlow, Phase>[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    const r: Partial<Record<DecomposeFlow, Phase>> = {};
    for (const flow of FLOWS) {
      const p = await runChild(flow, o);
      r[flow] = p;
      o.say(
        `round ${round} ${LABEL[flow]}: ${p.perSecond.toFixed(1)}/s, p50 ${p.p50Ms.toFixed(1)} ms, ` +
          `cpu ${p.cpuMs.toFixed(3)} ms/payment (machine ${p.machineCpuMs.toFixed(3)})`,
      );
    }
    rounds.push(r as Record<DecomposeFlow, Phase>);
  }
  const lines = [
    "",
    `what a payment's CPU is made of (${o.concurrency} client(s), medians of ${o.rounds} round(s); each flow its own process):`,
    `  ${"".padEnd(40)}${"payments/s".padStart(11)}${"p50 ms".padStart(9)}${"CPU ms/payment".padStart(16)}${"machine ms/payment".padStart(20)}`,
  ];
  for (const flow of FLOWS) {
    const ps = rounds.map((r) => r[flow]);
    lines.push(
      `  ${LABEL[flow].padEnd(40)}${median(ps.map((p) => p.perSecond))
        .toFixed(1)
        .padStart(11)}` +
        `${median(ps.map((p) => p.p50Ms))
          .toFixed(2)
          .padStart(9)}${median(ps.map((p) => p.cpuMs))
          .toFixed(3)
          .padStart(16)}` +
        `${median(ps.map((p) => p.machineCpuMs))
          .toFixed(3)
          .padStart(20)}`,
    );
  }
  const splits = rounds.map(splitOf);
  const m = (k: keyof Split) => median(splits.map((s) => s[k])).toFixed(2);
  const left = 2 - Number(m("followers"));
  lines.push(
    "  (machine: this flow's process + nats-server + the rest of the machine — PSPs, PostgreSQL, the receiver — from /proc)",
    "",
    "same-round ratios, medians:",
    `  product ÷ bare: rate ${m("rate")}, CPU per payment × ${m("cpu")} (machine × ${m("machineCpu")})`,
    `  the payment path alone (followers off) ÷ bare: CPU × ${m("path")} (machine × ${m("machinePath")})`,
    `  the followers (read models, webhook dispatcher and sender, one endpoint): + ${m("followers")} × the bare flow's whole CPU per payment (machine + ${m("machineFollowers")} ×)`,
    `    of which the endpoint's deliveries: + ${m("endpoint")} ×; payments/s with the endpoint ÷ without it ${m("endpointRate")} (issue 17: ≥ 0.9)`,
    left > 0
      ? `  so "CPU ≤ 2 × bare" with the followers in the payment's process needs the payment path ≤ 2 − ${m("followers")} = ${left.toFixed(2)} × bare; it is × ${m("path")}`
      : `  so "CPU ≤ 2 × bare" with the followers in the payment's process leaves the payment path nothing (2 − ${m("followers")}); it is × ${m("path")}`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
  process.stdout.write(
    `DECOMPOSE_RESULT ${JSON.stringify({ concurrency: o.concurrency, durationS: o.durationS, rounds, splits })}\n`,
  );
  return 0;
}
