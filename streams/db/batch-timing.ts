// The two clocks of a follower's batch (streams/db/follower.ts): how long a batch with nothing more
// pending lingers for one more message, and the deadline by which an open batch is applied whatever
// the source does next.

export const EXPIRED = Symbol("batch deadline");

/** A batch's deadline: `reached` resolves EXPIRED `ms` after set(); clear() before a new batch. */
export class BatchDeadline {
  reached: Promise<typeof EXPIRED> = new Promise(() => undefined);
  #timer: NodeJS.Timeout | undefined;

  set(ms: number): void {
    this.clear();
    this.reached = new Promise((resolve) => (this.#timer = setTimeout(() => resolve(EXPIRED), ms)));
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Whether `p` settles (either way) within `ms`. */
export async function arrivesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
