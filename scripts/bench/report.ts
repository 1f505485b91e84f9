// The bench's output: a compact report for people and one `BENCH_RESULT {json}` line for tools.
// The headline is product ÷ bare: the same steps with and without the product's code, measured in
// alternating rounds of the same run, so machine noise hits both and the ratio survives it. Each
// flow's figures are medians over its rounds (every round is listed, for the spread). The product's
// time breakdown comes from its own histograms, nested the way the work is: the HTTP request
// contains the command's round trip, which contains the actor's handling, which contains the PSP
// call; everything not inside the inner one is attributed to the outer one. With --procfile, the
// Procfile's roles as separate processes get their own section (scripts/bench/procfile-report.ts), set
// against the product, which is the single process.
import { afterLoadLines } from "./after-load.ts";
import type { Latency, OpenLoopResult, RunResult } from "./load.ts";
import { answerCounts, median, ms, r1, r3 } from "./figures.ts";
import { procfileSection } from "./procfile-report.ts";

export type { BenchOptions, Flow, FlowInput, ReportInput } from "./report-input.ts";
import type { FlowInput, ReportInput } from "./report-input.ts";

const ROUND_TRIPS = [
  ["commandPublish", 1, "command publish → PubAck (gateway, PAY_CMD, file storage, Nats-Msg-Id)"],
  ["consumerDelivery", 1, "consumer delivery to the worker (pull consumer of the partition; one-way)"],
  ["activationDirectGet", 0, "no read before a create: a fresh actor appends at expected sequence 0"],
  [
    "eventAppends",
    2,
    "fenced event appends → PubAck (product: Created+Routed+AuthorizationRequested, then Authorized+Captured)",
  ],
  ["reply", 0, "reply to the gateway: in memory, both in this process (core NATS between processes)"],
  ["ack", 1, "command ack (plain, after the reply; a lost ack is an idempotent redelivery)"],
] as const;

const us = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)} µs` : "n/a");
const pad = (s: string, n: number) => s.padEnd(n);
const isOpen = (r: RunResult): r is OpenLoopResult => "scheduled" in r;
const cpuMsPerOp = (r: RunResult) => r.cpu.processCpuMs / r.completed;

/** A flow's medians over its rounds, and its answer counts summed. */
function summarizeFlow(f: FlowInput) {
  const rs = f.rounds;
  const latency = (k: keyof Latency) => median(rs.map((r) => r.latencyMs[k]));
  const { outcomes, status201, status202, errors } = answerCounts(rs);
  return {
    perSecond: median(rs.map((r) => r.perSecond)),
    latencyMs: { p50: latency("p50"), p95: latency("p95"), p99: latency("p99"), max: latency("max"), mean: latency("mean") },
    cpuMsPerPayment: median(rs.map(cpuMsPerOp)),
    eventLoopUtilization: median(rs.map((r) => r.cpu.eventLoopUtilization)),
    completed: rs.reduce((n, r) => n + r.completed, 0),
    dropped: rs.reduce((n, r) => n + (isOpen(r) ? r.dropped : 0), 0),
    scheduled: rs.reduce((n, r) => n + (isOpen(r) ? r.scheduled : 0), 0),
    status201,
    status202,
    errors,
    outcomes,
  };
} // prettier-ignore
type FlowSummary = ReturnType<typeof summarizeFlow>;

function roundLine(r: RunResult, k: number): string {
  const l = r.latencyMs;
  const open = isOpen(r) ? `  dropped ${r.dropped}/${r.scheduled}  sender lag max ${ms(r.maxSendLagMs)}` : "";
  return (
    `    round ${k + 1}: ${r1(r.perSecond)}/s  p50 ${ms(l.p50)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}` +
    `  cpu ${cpuMsPerOp(r).toFixed(2)} ms/payment  node ${r.cpu.processCores.toFixed(2)} cores` +
    `  (loop ${Math.round(r.cpu.eventLoopUtilization * 100)}%)` +
    (r.cpu.natsServerCores === null ? "" : `  nats-server ${r.cpu.natsServerCores.toFixed(2)}`) +
    `  others ${r.cpu.otherCores.toFixed(2)}${open}`
  );
}

function flowLines(name: string, what: string, f: FlowInput, s: FlowSummary): string[] {
  const l = s.latencyMs;
  return [
    `${name}: ${what}`,
    `  ${r1(s.perSecond)} payments/s  p50 ${ms(l.p50)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  ` +
      `cpu ${s.cpuMsPerPayment.toFixed(3)} ms/payment  (medians of ${f.rounds.length})`,
    ...f.rounds.map(roundLine),
    `  answers: 201 ${s.status201}  202 ${s.status202}  errors/other ${s.errors}` +
      (s.scheduled > 0 ? `  dropped ${s.dropped} of ${s.scheduled} arrivals` : "") +
      `;  ${r1(f.eventMessagesPerPayment * 100) / 100} event messages per payment, ${f.commandsLeft} commands left`,
  ];
}

const RESULT_MARK = "BENCH_RESULT ";

/** The BENCH_RESULT line's object in a bench run's stdout (the line `report` prints), if it has one. */
export function benchResultOf(stdout: string): Record<string, unknown> | undefined {
  const line = stdout.split("\n").find((l) => l.startsWith(RESULT_MARK));
  return line === undefined
    ? undefined
    : (JSON.parse(line.slice(RESULT_MARK.length)) as Record<string, unknown>);
}

/** Prints the report and the BENCH_RESULT line; returns how many requests or publishes errored. */
export function report(i: ReportInput): number {
  const o = i.opts;
  const C = o.concurrency;
  const bare = i.bare && summarizeFlow(i.bare);
  const product = i.product && summarizeFlow(i.product);
  const ratio = bare && product ? product.perSecond / bare.perSecond : NaN;
  const cpuRatio = bare && product ? product.cpuMsPerPayment / bare.cpuMsPerPayment : NaN;
  const b = i.baseline;
  const baselineErrors = b ? b.completed - (b.outcomes.ok ?? 0) : 0;
  const load =
    o.openLoopRate === undefined
      ? `closed loop, ${C} client${C === 1 ? "" : "s"}`
      : `open loop, ${o.openLoopRate} payments/s offered, at most ${o.maxOutstanding} outstanding, latency from the intended send time`;

  const procfile =
    i.procfile &&
    procfileSection(i.procfile.rounds, i.product?.rounds, {
      partitions: i.partitions,
      prefix: i.procfile.prefix,
    });
  const flows = [
    ...(i.bare ? ["bare"] : []),
    ...(i.product ? ["product"] : []),
    ...(i.procfile ? ["procfile"] : []),
  ];

  const out: string[] = [];
  const m = i.machine;
  out.push(
    "",
    `Switchyard bench: ${load}; ${o.rounds} round${o.rounds === 1 ? "" : "s"} of ` +
      `${flows.join(" then ")}, each ${o.durationS} s after ${o.warmupS} s warm-up; ${i.partitions} partitions`,
    `machine: ${m.cpus} × ${m.cpuModel}, ${m.os}, node ${m.node}, nats-server ${m.natsServer}; ` +
      (!procfile
        ? "everything in this one process"
        : flows.length > 1
          ? `${flows.filter((f) => f !== "procfile").join(" and ")} in this one process, procfile in four children`
          : "the client in this process, procfile in four children"),
    `idle: this process used ${r1(i.idleCpuMsPerS)} ms of CPU per second with no load (included in every ms/payment below)`,
    o.tracing
      ? "tracing: ON for the product (every span exported over OTLP/HTTP to a discarding receiver in this process)"
      : "tracing: off (no spans created: the OpenTelemetry API's no-op)",
    ...(i.productSetup === undefined ? [] : [i.productSetup]),
  );
  const rt = i.routing;
  if (rt)
    out.push(
      "",
      `routing decision alone (${rt.rules}-rule policy, broad rules last; ${rt.runs} runs × ${rt.decisions} decisions, medians; before anything started)`,
      `  ${Math.round(rt.perSecond)} decisions/s  p50 ${us(rt.p50Us)}  p99 ${us(rt.p99Us)}  mean ${us(rt.meanUs)}`,
      `  runs: ${rt.perRun.map((r) => `${Math.round(r.perSecond)}/s`).join("  ")}; matched rule: position ${r1(rt.meanMatchPosition)} of ${rt.rules} on average`,
    );
  if (i.bare && bare)
    out.push(
      "",
      ...flowLines("bare", "the same steps written directly (scripts/bench/bare.ts)", i.bare, bare),
    );
  if (i.product && product)
    out.push(
      "",
      ...flowLines(
        "product",
        "POST /v1/payments → 201 authorized + captured (card 4242…, sandbox latency 0)",
        i.product,
        product,
      ),
    );
  if (i.afterLoad)
    out.push(
      "",
      ...afterLoadLines(
        i.afterLoad,
        i.bare
          ? "the product's last phase; the bare flow idle in this process too"
          : "the product's last phase",
      ),
    );
  if (bare && product)
    out.push(
      "",
      `ratio product ÷ bare = ${r3(ratio)} payments/s` +
        (o.openLoopRate === undefined ? "" : " (open loop: both should serve the offered rate)") +
        `;  CPU per payment product ÷ bare = ${r3(cpuRatio)} ` +
        `(${product.cpuMsPerPayment.toFixed(3)} vs ${bare.cpuMsPerPayment.toFixed(3)} ms)`,
    );
  if (procfile) out.push("", ...procfile.lines);
  if (b) {
    const perPublish = b.cpu.processCpuMs / b.completed;
    out.push(
      "",
      `JetStream baseline (awaited js.publish, ${C} publishers, ${i.payloadBytes} B command envelope, file storage)`,
      `  ${r1(b.perSecond)} publishes/s  p50 ${ms(b.latencyMs.p50)}  p99 ${ms(b.latencyMs.p99)}  cpu ${perPublish.toFixed(3)} ms/publish`,
      ...(product ? [`  product ÷ baseline = ${r3(product.perSecond / b.perSecond)}`] : []),
    );
  }
  const inside = i.inside;
  let breakdown: Record<string, number> | undefined;
  if (inside && product) {
    const client = product.latencyMs.mean;
    const { httpMs, commandMs, pspAuthorizeMs } = inside;
    breakdown = {
      clientObserved: client,
      gateway: httpMs,
      actor: commandMs,
      pspAuthorize: pspAuthorizeMs,
      actorExclPsp: commandMs - pspAuthorizeMs,
      gatewayExclActor: httpMs - commandMs,
      outsideGateway: client - httpMs,
    };
    out.push(
      "",
      "where a product payment's time goes (means over the measured windows; platform's own histograms):",
      `  ${pad("client-observed latency (median of rounds)", 44)}${ms(client)}`,
      `  ${pad("gateway: request in → response out", 44)}${ms(httpMs)}`,
      `  ${pad("  actor handling CreatePayment", 44)}${ms(commandMs)}`,
      `  ${pad("    PSP authorize (HTTP to the sandbox)", 44)}${ms(pspAuthorizeMs)}`,
      `  ${pad("    rest of the actor", 44)}${ms(breakdown.actorExclPsp!)}  direct get, 2 event appends, decide/evolve`,
      `  ${pad("  gateway outside the actor", 44)}${ms(breakdown.gatewayExclActor!)}  validate, seal, command publish, delivery, mailbox, reply`,
      `  ${pad("outside the gateway", 44)}${ms(breakdown.outsideGateway!)}  client, sockets, waiting for the event loop`,
      `  (observed: ${inside.observed.http} requests, ${inside.observed.command} commands, ${inside.observed.psp} authorizations)`,
      "",
      "JetStream round trips per payment (a baseline publish is one):",
      ...ROUND_TRIPS.map(([, n, what]) => `  ${n} × ${what}`),
    );
  }
  const warnings = warningsOf(i, { bare, product, procfile, baselineErrors });
  if (warnings.length > 0)
    out.push("", "!!! WARNING: not every payment was answered 201 !!!", ...warnings.map((w) => `!!! ${w}`));
  process.stdout.write(`${out.join("\n")}\n\n`);

  const result = resultJson(i, { bare, product, procfile, ratio, cpuRatio, breakdown, baselineErrors });
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`);
  for (const w of warnings) process.stderr.write(`bench: WARNING: ${w}\n`);
  return (bare?.errors ?? 0) + (product?.errors ?? 0) + (procfile?.errors ?? 0) + baselineErrors;
}

/** A flow's figures as BENCH_RESULT gives them. */
const flowJson = (f: FlowInput | undefined, s: FlowSummary | undefined) =>
  f && s
    ? {
        perSecond: r1(s.perSecond),
        latencyMs: roundAll(s.latencyMs),
        cpuMsPerPayment: r3(s.cpuMsPerPayment),
        eventLoopUtilization: r3(s.eventLoopUtilization),
        completed: s.completed,
        status201: s.status201,
        status202: s.status202,
        errors: s.errors,
        dropped: s.dropped,
        scheduled: s.scheduled,
        outcomes: s.outcomes,
        eventMessagesPerPayment: r3(f.eventMessagesPerPayment),
        commandsLeft: f.commandsLeft,
        rounds: f.rounds.map((r) => ({
          perSecond: r1(r.perSecond),
          completed: r.completed,
          elapsedS: r3(r.elapsedS),
          latencyMs: roundAll(r.latencyMs),
          cpuMsPerPayment: r3(cpuMsPerOp(r)),
          cpu: roundAll(r.cpu),
          windowUs: r.windowUs,
          ...(isOpen(r) && {
            scheduled: r.scheduled,
            dropped: r.dropped,
            maxSendLagMs: r3(r.maxSendLagMs),
          }),
        })),
      }
    : null;

/** The machine-readable line (BENCH_RESULT) of a run. */
function resultJson(
  i: ReportInput,
  c: {
    bare: FlowSummary | undefined;
    product: FlowSummary | undefined;
    procfile: ReturnType<typeof procfileSection> | undefined;
    ratio: number;
    cpuRatio: number;
    breakdown: Record<string, number> | undefined;
    baselineErrors: number;
  },
) {
  const o = i.opts;
  const { bare, product, procfile, ratio, cpuRatio, breakdown, baselineErrors } = c;
  const b = i.baseline;
  const rt = i.routing;
  const m = i.machine;
  return {
    mode: o.openLoopRate === undefined ? "closed" : "open",
    concurrency: o.concurrency,
    openLoopRate: o.openLoopRate ?? null,
    maxOutstanding: o.openLoopRate === undefined ? null : o.maxOutstanding,
    durationS: o.durationS,
    warmupS: o.warmupS,
    rounds: o.rounds,
    only: o.only ?? null,
    procfileMode: o.procfile,
    tracing: o.tracing,
    endpoint: o.endpoint,
    embedded: o.embedded,
    productSetup: i.productSetup ?? null,
    afterLoad: i.afterLoad ?? null,
    partitions: i.partitions,
    idleCpuMsPerS: r1(i.idleCpuMsPerS),
    bare: flowJson(i.bare, bare),
    product: flowJson(i.product, product),
    procfile: procfile ? procfile.json : null,
    ratio: Number.isFinite(ratio) ? r3(ratio) : null,
    cpuRatio: Number.isFinite(cpuRatio) ? r3(cpuRatio) : null,
    breakdownMs: breakdown ? roundAll(breakdown) : null,
    roundTripsPerPayment: Object.fromEntries(ROUND_TRIPS.map(([k, n]) => [k, n])),
    routing: rt
      ? {
          rules: rt.rules,
          decisions: rt.decisions,
          runs: rt.runs,
          perSecond: Math.round(rt.perSecond),
          p50Us: r3(rt.p50Us),
          p99Us: r3(rt.p99Us),
          meanUs: r3(rt.meanUs),
          meanMatchPosition: r3(rt.meanMatchPosition),
          perRun: rt.perRun,
        }
      : null,
    baseline: b
      ? {
          publishesPerSecond: r1(b.perSecond),
          completed: b.completed,
          payloadBytes: i.payloadBytes,
          errors: baselineErrors,
          latencyMs: roundAll(b.latencyMs),
          cpuMsPerPublish: r3(b.cpu.processCpuMs / b.completed),
          cpu: roundAll(b.cpu),
          productRatio: product ? r3(product.perSecond / b.perSecond) : null,
        }
      : null,
    machine: m,
  };
}

/** What a reader must not miss: answers other than 201, dropped arrivals, failed publishes. */
function warningsOf(
  i: ReportInput,
  c: {
    bare: FlowSummary | undefined;
    product: FlowSummary | undefined;
    procfile: ReturnType<typeof procfileSection> | undefined;
    baselineErrors: number;
  },
): string[] {
  const o = i.opts;
  const b = i.baseline;
  const { bare, product, procfile, baselineErrors } = c;
  const warnings: string[] = [];
  for (const [name, s] of [
    ["bare", bare],
    ["product", product],
  ] as const) {
    if (!s) continue;
    if (s.status202 > 0) warnings.push(`${name}: ${s.status202} × 202 (not answered within the reply wait)`);
    if (s.dropped > 0)
      warnings.push(
        `${name}: ${s.dropped} arrivals dropped (${o.maxOutstanding} outstanding): the rate was not served`,
      );
    for (const [k, v] of Object.entries(s.outcomes))
      if (k !== "201" && k !== "202") warnings.push(`${name}: ${v} × ${k}`);
  }
  if (procfile) warnings.push(...procfile.warnings);
  if (baselineErrors > 0) warnings.push(`baseline: publishes failed: ${JSON.stringify(b?.outcomes)}`);
  return warnings;
}

function roundAll<T extends object>(o: T): Record<keyof T, number | null> {
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k, typeof v === "number" && Number.isFinite(v) ? r3(v) : null]),
  ) as Record<keyof T, number | null>;
}
