// The bench's output: a compact report for people and one `BENCH_RESULT {json}` line for tools.
// The time breakdown is derived from the platform's own histograms, nested the way the work is:
// the HTTP request contains the command's round trip, which contains the actor's handling, which
// contains the PSP call. Everything not inside the inner one is attributed to the outer one.
import type { Cpu, RunResult } from "./load.ts";
import type { meansMs } from "./probes.ts";
import type { RoutingBenchResult } from "./routing.ts";

export type BenchOptions = { concurrency: number; durationS: number; warmupS: number };

export type ReportInput = {
  opts: BenchOptions;
  partitions: number;
  /** The routing decision alone, measured before the platform started. */
  routing: RoutingBenchResult;
  payments: RunResult;
  baseline: RunResult;
  payloadBytes: number;
  inside: ReturnType<typeof meansMs>;
  eventMessagesPerPayment: number;
  commandsLeft: number;
  machine: { cpus: number; cpuModel: string; os: string; node: string; natsServer: string };
};

// What one payment costs in JetStream traffic, from the code path (gateway/routes/payments.ts,
// streams/command-consumer.ts, actors/payment/actor.ts, streams/event-store.ts).
const ROUND_TRIPS = [
  ["commandPublish", 1, "command publish → PubAck (gateway, PAY_CMD, file storage, Nats-Msg-Id)"],
  ["consumerDelivery", 1, "consumer delivery to the worker (pull consumer of the partition; one-way)"],
  ["activationDirectGet", 1, "direct get last_by_subj on PAY_EVT (new actor loads: nothing there yet)"],
  [
    "eventAppends",
    2,
    "event appends → PubAck (Created+Routed+AuthorizationRequested; then Authorized, captured)",
  ],
  ["reply", 1, "reply to the gateway's inbox (core NATS; one-way)"],
  ["ackAck", 1, "command ack → ack-ack (after the reply: load, not latency)"],
] as const;

const r1 = (n: number) => Math.round(n * 10) / 10;
const r3 = (n: number) => Math.round(n * 1000) / 1000;
const ms = (n: number) => (Number.isFinite(n) ? `${r1(n).toFixed(1)} ms` : "n/a");
const us = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)} µs` : "n/a");
const pad = (s: string, n: number) => s.padEnd(n);

function cpuLine(c: Cpu): string {
  const server = (name: string, v: number | null) => (v === null ? "" : `  ${name} ${v.toFixed(2)}`);
  return (
    `cpu cores: node ${c.processCores.toFixed(2)} (event loop ${Math.round(c.eventLoopUtilization * 100)}% busy)` +
    server("nats-server", c.natsServerCores) +
    server("redis", c.redisServerCores) +
    `  others ${c.otherCores.toFixed(2)}  (machine ${Math.round(c.machineBusy * 100)}% busy)`
  );
}

function latencyLine(r: RunResult): string {
  const l = r.latencyMs;
  return `latency p50 ${ms(l.p50)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  max ${ms(l.max)}  mean ${ms(l.mean)}`;
}

/** Prints the report and the BENCH_RESULT line; returns how many requests or publishes errored. */
export function report(i: ReportInput): number {
  const p = i.payments;
  const b = i.baseline;
  const C = i.opts.concurrency;
  const ok = p.outcomes["201"] ?? 0;
  const slow = p.outcomes["202"] ?? 0;
  const others = Object.entries(p.outcomes).filter(([k]) => k !== "201" && k !== "202");
  const errors = others.reduce((n, [, v]) => n + v, 0);
  const ratio = p.perSecond / b.perSecond;
  // CPU this process spent per operation: on one machine with everything in one event loop, this,
  // not a wait on some server, is what usually sets the rate.
  const cpuMsPerPayment = (p.cpu.processCores * 1000) / p.perSecond;
  const cpuMsPerPublish = (b.cpu.processCores * 1000) / b.perSecond;
  const saturated = p.cpu.eventLoopUtilization > 0.9;

  const client = p.latencyMs.mean;
  const { httpMs, commandMs, pspAuthorizeMs } = i.inside;
  const breakdown = {
    clientObserved: client,
    gateway: httpMs,
    actor: commandMs,
    pspAuthorize: pspAuthorizeMs,
    actorExclPsp: commandMs - pspAuthorizeMs,
    gatewayExclActor: httpMs - commandMs,
    outsideGateway: client - httpMs,
  };

  const out: string[] = [];
  const m = i.machine;
  const rt = i.routing;
  out.push(
    "",
    `Switchyard bench: ${C} clients, ${i.opts.durationS} s after ${i.opts.warmupS} s warm-up, ${i.partitions} partitions`,
    `machine: ${m.cpus} × ${m.cpuModel}, ${m.os}, node ${m.node}, nats-server ${m.natsServer}`,
    "",
    `routing decision alone (${rt.rules}-rule policy, broad rules last; ${rt.runs} runs × ${rt.decisions} decisions, medians; before the platform started)`,
    `  ${Math.round(rt.perSecond)} decisions/s  p50 ${us(rt.p50Us)}  p99 ${us(rt.p99Us)}  mean ${us(rt.meanUs)}`,
    `  runs: ${rt.perRun.map((r) => `${Math.round(r.perSecond)}/s`).join("  ")}; matched rule: position ${r1(rt.meanMatchPosition)} of ${rt.rules} on average`,
    "",
    "payments (POST /v1/payments, card 4242…, capture automatic, sandbox latency 0)",
    `  ${r1(p.perSecond)} payments/s  (${p.completed} in ${p.elapsedS.toFixed(1)} s)`,
    `  ${latencyLine(p)}`,
    `  answers: 201 ${ok}   202 ${slow}   errors/other ${errors}`,
    `  ${cpuLine(p.cpu)}`,
    "",
    `JetStream baseline (awaited js.publish, ${C} publishers, ${i.payloadBytes} B command envelope, file storage)`,
    `  ${r1(b.perSecond)} publishes/s  (${b.completed} in ${b.elapsedS.toFixed(1)} s)`,
    `  ${latencyLine(b)}`,
    `  ${cpuLine(b.cpu)}`,
    "",
    `ratio payments/s ÷ publishes/s = ${r3(ratio)}  (one payment costs as much as ~${r1(1 / ratio)} raw publishes)`,
    `node CPU per payment ${cpuMsPerPayment.toFixed(2)} ms, per raw publish ${cpuMsPerPublish.toFixed(3)} ms` +
      (saturated
        ? ": the event loop was saturated, so throughput is this process's CPU and the means below are mostly queueing for the loop"
        : ""),
    "",
    "where a payment's time goes (means over the measured window; platform's own histograms):",
    `  ${pad("client-observed latency", 44)}${ms(client)}`,
    `  ${pad("gateway: request in → response out", 44)}${ms(httpMs)}`,
    `  ${pad("  actor handling CreatePayment", 44)}${ms(commandMs)}`,
    `  ${pad("    PSP authorize (HTTP to the sandbox)", 44)}${ms(pspAuthorizeMs)}`,
    `  ${pad("    rest of the actor", 44)}${ms(breakdown.actorExclPsp)}  direct get, 2 event appends, decide/evolve`,
    `  ${pad("  gateway outside the actor", 44)}${ms(breakdown.gatewayExclActor)}  validate, seal, command publish, delivery, mailbox, reply`,
    `  ${pad("outside the gateway", 44)}${ms(breakdown.outsideGateway)}  client, sockets, waiting for the event loop`,
    `  (observed: ${i.inside.observed.http} requests, ${i.inside.observed.command} commands, ${i.inside.observed.psp} authorizations)`,
    "",
    "JetStream round trips per payment (a baseline publish is one):",
    ...ROUND_TRIPS.map(([, n, what]) => `  ${n} × ${what}`),
    `  measured: ${r1(i.eventMessagesPerPayment * 100) / 100} PAY_EVT messages per accepted payment; ${i.commandsLeft} commands left in PAY_CMD`,
  );
  if (slow > 0 || errors > 0) {
    out.push(
      "",
      "!!! WARNING: not every payment was answered 201 within the reply wait !!!",
      `!!! ${slow} × 202 (the platform could not keep up within the gateway's reply wait)`,
      ...others.map(([k, v]) => `!!! ${v} × ${k}`),
    );
  }
  process.stdout.write(`${out.join("\n")}\n\n`);

  const result = {
    concurrency: C,
    durationS: i.opts.durationS,
    warmupS: i.opts.warmupS,
    partitions: i.partitions,
    routing: {
      rules: rt.rules,
      decisions: rt.decisions,
      runs: rt.runs,
      perSecond: Math.round(rt.perSecond),
      p50Us: r3(rt.p50Us),
      p99Us: r3(rt.p99Us),
      meanUs: r3(rt.meanUs),
      meanMatchPosition: r3(rt.meanMatchPosition),
      perRun: rt.perRun,
    },
    payments: {
      perSecond: r1(p.perSecond),
      completed: p.completed,
      status201: ok,
      status202: slow,
      errors,
      outcomes: p.outcomes,
      latencyMs: roundAll(p.latencyMs),
      cpu: roundAll(p.cpu),
    },
    baseline: {
      publishesPerSecond: r1(b.perSecond),
      completed: b.completed,
      payloadBytes: i.payloadBytes,
      errors: b.completed - (b.outcomes.ok ?? 0),
      latencyMs: roundAll(b.latencyMs),
      cpu: roundAll(b.cpu),
    },
    ratio: r3(ratio),
    nodeCpuMsPerPayment: r3(cpuMsPerPayment),
    nodeCpuMsPerPublish: r3(cpuMsPerPublish),
    breakdownMs: roundAll(breakdown),
    roundTripsPerPayment: Object.fromEntries(ROUND_TRIPS.map(([k, n]) => [k, n])),
    eventMessagesPerPayment: r3(i.eventMessagesPerPayment),
    commandsLeft: i.commandsLeft,
    machine: m,
  };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
  if (slow > 0) process.stderr.write(`bench: WARNING: ${slow} payments answered 202, not 201\n`);
  if (result.baseline.errors > 0)
    process.stderr.write(`bench: WARNING: baseline publishes failed: ${JSON.stringify(b.outcomes)}\n`);
  return errors + result.baseline.errors;
}

function roundAll<T extends object>(o: T): Record<keyof T, number | null> {
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k, typeof v === "number" && Number.isFinite(v) ? r3(v) : null]),
  ) as Record<keyof T, number | null>;
}
