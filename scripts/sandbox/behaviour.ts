// How a simulated PSP behaves right now: latency, outage, faults and failure shares, set by tests
// and operators through the sandbox's control routes (scripts/sandbox-psp.ts).
export const Fault = ["none", "http_500", "garbled", "reset"] as const;
export type Fault = (typeof Fault)[number];

export type Behaviour = {
  /** Added to every response of this PSP. */
  latencyMs: number;
  /** Every endpoint answers 503 "not processed" and changes nothing. */
  outage: boolean;
  /**
   * The request is processed, then the answer is lost: "http_500" replaces it by a 500, "garbled" by a
   * body that is not JSON, "reset" by a dropped connection. Lets tests show that an adapter treats each
   * as outcome unknown.
   */
  fault: Fault;
  /**
   * Share (0–1) of authorizations answered with the PSP's 503 "not processed" before anything is
   * done: nothing charged, nothing stored under the key (the same key may succeed later). 1 = all.
   */
  failureRate: number;
  /**
   * Share (0–1) of requests (any endpoint) that are processed as usual and whose answer is then held
   * back for the sandbox's slow delay (`slowCardDelayMs`), longer than any client timeout: the client
   * sees a timeout, the PSP has the charge, a status query finds it.
   */
  timeoutRate: number;
  /** Refunds are answered "pending" and completed later, by a notification (default off). */
  asyncRefunds?: boolean;
  /** Asynchronous refunds end failed (their notification says so) instead of succeeded. */
  refundsFail?: boolean;
};
export const defaultBehaviour = (): Behaviour => ({
  latencyMs: 0,
  outage: false,
  fault: "none",
  failureRate: 0,
  timeoutRate: 0,
});
