// The sandbox PSPs' outgoing notifications: each happening after a call (sandbox/later.ts) is worded
// and signed by its PSP (sandbox/notices.ts) and POSTed to the platform's door, `<url>/<psp>`, with
// the PSP's own retries until a 2xx (backoff doubling from `initialMs`, `tries` in all), as real PSPs
// do. Every notification and every attempt is kept for tests (GET /_sandbox/notifications). Controls:
// a notification may be withheld (not sent: a test then forges or replays it), replayed (the same
// notification again, correctly signed) or forged (a copy with a signature that is not the PSP's,
// sent once).
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Happening } from "./later.ts";
import type { Notice, Signer } from "./notices.ts";

export type Attempt = { at: string; status?: number; error?: string };
export type SentNotice = Notice & {
  /** `withheld`: recorded, not sent (a test's choice); `no_url`: nowhere configured to send it. */
  delivery: "sending" | "delivered" | "failed" | "withheld" | "no_url";
  forged: boolean;
  replay: boolean;
  url: string | null;
  attempts: Attempt[];
  createdAt: string;
};

export type RetryTerms = { initialMs: number; tries: number };
export const DEFAULT_RETRY: RetryTerms = { initialMs: 500, tries: 8 };
const ATTEMPT_TIMEOUT_MS = 10_000;
const KEEP = 2_000;

export class Notifier {
  private base: string | undefined;
  private readonly perPsp = new Map<string, string>();
  private readonly sent: SentNotice[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly signers: ReadonlyMap<string, Signer>,
    private readonly o: {
      url?: string;
      urls?: Partial<Record<string, string>>;
      retry?: RetryTerms;
      closing: AbortSignal;
      now: () => Date;
      log?: Logger;
    },
  ) {
    this.base = o.url?.replace(/\/+$/, "");
    for (const [psp, url] of Object.entries(o.urls ?? {})) if (url) this.perPsp.set(psp, url);
  }

  /** `<url>/<psp>` for every PSP (the platform's /webhooks/psp), or one PSP's own full URL. */
  setUrl(url: string | undefined, psp?: string): void {
    if (psp === undefined) this.base = url?.replace(/\/+$/, "");
    else if (url === undefined) this.perPsp.delete(psp);
    else this.perPsp.set(psp, url);
  }

  urlOf(psp: string): string | undefined {
    return this.perPsp.get(psp) ?? (this.base !== undefined ? `${this.base}/${psp}` : undefined);
  }

  list(filter: { psp?: string; reference?: string } = {}): SentNotice[] {
    return this.sent
      .filter(
        (n) =>
          (filter.psp === undefined || n.psp === filter.psp) &&
          (filter.reference === undefined || n.reference === filter.reference),
      )
      .map((n) => ({ ...n, attempts: [...n.attempts] }));
  }

  /** Words, signs and sends what happened (or only records it when `withhold`). */
  notify(psp: string, h: Happening, opts: { withhold?: boolean } = {}): SentNotice {
    const signer = this.signer(psp);
    return this.dispatch(signer.notice(h, this.o.now()), {
      forged: false,
      replay: false,
      withhold: opts.withhold ?? false,
    });
  }

  /** The notification `id` of `psp` again, correctly signed (acme: with a fresh timestamp). */
  replay(psp: string, id: string): SentNotice | undefined {
    const original = this.sent.find((n) => n.psp === psp && n.id === id && !n.forged);
    return original && this.dispatch(original, { forged: false, replay: true, withhold: false });
  }

  /** A copy of `id` (default: the PSP's latest) whose signature is not the PSP's; sent once. */
  forge(psp: string, id?: string): SentNotice | undefined {
    const original = [...this.sent]
      .reverse()
      .find((n) => n.psp === psp && !n.forged && (id === undefined || n.id === id));
    if (!original) return undefined;
    const body = this.signer(psp).forgedBody(original);
    return this.dispatch({ ...original, body }, { forged: true, replay: false, withhold: false });
  }

  /** Waits for the deliveries under way (the sandbox's close, after aborting their backoffs). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  private signer(psp: string): Signer {
    const s = this.signers.get(psp);
    if (!s) throw new RangeError(`no sandbox PSP named ${psp}`);
    return s;
  }

  private dispatch(n: Notice, how: { forged: boolean; replay: boolean; withhold: boolean }): SentNotice {
    const url = this.urlOf(n.psp);
    const record: SentNotice = {
      ...n,
      delivery: how.withhold ? "withheld" : url === undefined ? "no_url" : "sending",
      forged: how.forged,
      replay: how.replay,
      url: url ?? null,
      attempts: [],
      createdAt: this.o.now().toISOString(),
    };
    this.sent.push(record);
    if (this.sent.length > KEEP) this.sent.splice(0, this.sent.length - KEEP);
    if (record.delivery === "no_url")
      this.o.log?.warn({ psp: n.psp, id: n.id }, "sandbox notification not sent: no notification URL set");
    if (record.delivery !== "sending" || url === undefined) return record;
    const p = this.deliver(record, url, how.forged ? 1 : (this.o.retry ?? DEFAULT_RETRY).tries).finally(() =>
      this.inFlight.delete(p),
    );
    this.inFlight.add(p);
    return record;
  }

  private async deliver(n: SentNotice, url: string, tries: number): Promise<void> {
    const signer = this.signer(n.psp);
    let waitMs = (this.o.retry ?? DEFAULT_RETRY).initialMs;
    for (let attempt = 1; attempt <= tries && !this.o.closing.aborted; attempt++) {
      const at = this.o.now();
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: signer.headers(n, at, n.forged),
          body: n.body,
          redirect: "manual",
          signal: AbortSignal.any([this.o.closing, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        n.attempts.push({ at: at.toISOString(), status: res.status });
        if (res.status >= 200 && res.status < 300) {
          n.delivery = "delivered";
          return;
        }
      } catch (err) {
        n.attempts.push({ at: at.toISOString(), error: err instanceof Error ? err.message : String(err) });
      }
      if (attempt < tries) {
        await sleep(waitMs, undefined, { signal: this.o.closing }).catch(() => undefined);
        waitMs *= 2;
      }
    }
    n.delivery = "failed";
    this.o.log?.warn(
      { psp: n.psp, id: n.id, attempts: n.attempts.length },
      "sandbox notification not acknowledged; gave up",
    );
  }
}
