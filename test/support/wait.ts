// Wait for a condition to become true (an observable event: a state reached, a charge recorded),
// checking it again as soon as the previous check finished. Not a sleep: it returns the moment the
// condition holds, and fails with what it was waiting for.
import { setTimeout as delay } from "node:timers/promises";

export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { timeoutMs: number; what: string; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}`);
    await delay(opts.intervalMs ?? 25);
  }
}
