// What workers tell operators about PSP health and shadow evaluation. Each worker publishes its own
// report (streams/ops-board.ts); the gateway's operator endpoints merge them. Plain JSON.

export type PspHealthReport = {
  psp: string;
  circuit: "closed" | "open" | "half_open";
  forcedOut: boolean;
  /** Authorized (or requires_action) share of the recent authorization outcomes; null if none. */
  successRate: number | null;
  /** Technical errors and unknown outcomes share of the recent calls; null if none. */
  failureRate: number | null;
  samples: number;
  consecutiveFailures: number;
  latencyMs: { p50: number | null; p95: number | null };
  /** When the circuit last changed state (ISO time), if ever. */
  circuitSince: string | null;
  /** When an open circuit lets probes through again. */
  retryAt: string | null;
};

export type ShadowSample = {
  paymentId: string;
  at: string;
  active: { psp: string | null; expectedFee: number | null; ruleId: string | null };
  shadow: { psp: string | null; expectedFee: number | null; ruleId: string | null };
};

export type ShadowReport = {
  /** The shadow routing version these counts are for. */
  version: number;
  /** Compared against these active versions (a count may span several if activation changed). */
  activeVersions: number[];
  decisions: number;
  divergedPsp: number;
  divergedFee: number;
  /** The most recent diverging payments, newest first (at most 20 per worker). */
  samples: ShadowSample[];
};

export type WorkerReport = {
  workerId: string;
  at: string;
  psps: PspHealthReport[];
  shadow: ShadowReport[];
};
