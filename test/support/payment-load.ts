// Merchants paying in a loop while a test breaks something (a process killed, a server stopped):
// each client creates a payment, captures it and refunds part of it, again and again until stopped;
// what it made and every unexpected answer are kept for the test to check afterwards.
import { paymentBody, type Api } from "./platform.ts";

export type Made = { id: string; createdAt: number; done: boolean };
export type PaymentLoad = {
  /** Every payment created, in creation order. */
  made: Made[];
  /** Every answer that was not the expected one (a failed step stops that payment). */
  failures: string[];
  done(): number;
  stop(): Promise<void>;
};

/** `clients` loops, each paying and then capturing and refunding part of it, until stopped. */
export function startPaymentLoad(
  api: Api,
  clients: number,
  o: { amount: number; refund: number },
): PaymentLoad {
  const made: Made[] = [];
  const failures: string[] = [];
  let running = true;
  const step = async (what: string, call: Promise<{ status: number; body: unknown }>, want: number) => {
    const res = await call;
    if (res.status !== want) failures.push(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.status === want;
  };
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const created = await api.post("/v1/payments", paymentBody({ amount: o.amount }));
      if (created.status !== 201) {
        failures.push(`create: ${created.status} ${JSON.stringify(created.body)}`);
        continue;
      }
      const p: Made = { id: created.body.id, createdAt: Date.now(), done: false };
      made.push(p);
      p.done =
        (await step(`capture ${p.id}`, api.post(`/v1/payments/${p.id}/capture`, {}), 200)) &&
        (await step(`refund ${p.id}`, api.post(`/v1/payments/${p.id}/refunds`, { amount: o.refund }), 200));
    }
  });
  return {
    made,
    failures,
    done: () => made.filter((p) => p.done).length,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** One platform with the worker's projections off, a webhook receiver and an endpoint for m_alpha. */
