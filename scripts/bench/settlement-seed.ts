// The settlement bench's inputs: N captured payments written straight to PAY_EVT as the actor would
// write them (one chained v2 frame each: created, routed, authorization requested, authorized with
// capture), and acme's report of the same N captures, one `charge` line per payment, streamed to a
// file. Payment n has PSP reference `ch_<n>`, so line n settles payment n and nothing else.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import type { PaymentEvent } from "../../actors/payment/core/events.ts";
import { PaymentEvents } from "../../actors/payment/core/wire.ts";
import { genesisHash } from "../../streams/chain.ts";
import { encode, type EventFrameV2 } from "../../streams/envelopes.ts";
import { eventSubject, type Topology } from "../../streams/topology.ts";

export const BENCH_PSP = "acme";
const AT = "2026-12-01T10:00:00.000Z";

/** Payment n's figures: amounts vary a little so the report is not one repeated line. */
export const paymentId = (n: number) => `pay_bench_${n}`;
export const amountOf = (n: number) => 1000 + (n % 9000);
/** What the fee policy would expect: 1.4 % + 25 cents, rounded down. */
export const expectedFeeOf = (n: number) => Math.floor((amountOf(n) * 14) / 1000) + 25;

export function paymentEvents(n: number): PaymentEvent[] {
  const id = paymentId(n);
  return [
    {
      type: "PaymentCreated",
      paymentId: id,
      merchantId: "m_bench",
      requestFingerprint: `fp_${n}`,
      amount: amountOf(n),
      currency: "EUR",
      capture: "automatic",
      card: {
        brand: "visa",
        last4: "4242",
        binCountry: "DE",
        fingerprint: "cf_bench",
        expMonth: 12,
        expYear: 2030,
      },
      reference: `order_${n}`,
      at: AT,
    },
    // The form written before routing decisions were recorded: still valid, and the smallest.
    { type: "PaymentRouted", strategy: "bench", candidates: [BENCH_PSP], at: AT },
    {
      type: "AuthorizationRequested",
      attemptNo: 1,
      psp: BENCH_PSP,
      idempotencyKey: `${id}:1`,
      expectedFee: expectedFeeOf(n),
      trigger: "routed",
      at: AT,
    },
    { type: "PaymentAuthorized", attemptNo: 1, pspReference: `ch_${n}`, captured: true, at: AT },
  ];
}

/** The events must be what the actor itself would write: one sample through the wire schema. */
export function checkSample(): void {
  const parsed = PaymentEvents.safeParse(paymentEvents(1));
  if (!parsed.success) throw new Error(`bench payment events are invalid: ${parsed.error.message}`);
}

/**
 * Publish payments 1..n, `window` publishes in flight. Each frame is its payment's first, so its
 * `prev` is the payment's genesis hash. Returns the stream sequence of the last one.
 */
export async function seedPayments(
  js: JetStreamClient,
  topo: Topology,
  n: number,
  window: number,
  onProgress?: (done: number) => void,
): Promise<number> {
  let lastSeq = 0;
  let inFlight: Promise<PubAck>[] = [];
  const drain = async () => {
    for (const ack of await Promise.all(inFlight)) lastSeq = Math.max(lastSeq, ack.seq);
    inFlight = [];
  };
  for (let i = 1; i <= n; i++) {
    const id = paymentId(i);
    const frame: EventFrameV2 = {
      v: 2,
      paymentId: id,
      firstEventNo: 1,
      events: paymentEvents(i),
      prev: genesisHash(id),
    };
    // The actor's own append is fenced at expected sequence 0; so is this one.
    inFlight.push(
      js.publish(eventSubject(topo, id), encode(frame), {
        msgID: `${id}:1`,
        expect: { lastSubjectSequence: 0 },
        timeout: 30_000,
      }),
    );
    if (inFlight.length >= window) {
      await drain();
      onProgress?.(i);
    }
  }
  await drain();
  return lastSeq;
}

const decimal = (minor: number) => `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, "0")}`;

/** acme's report of payments 1..n, one charge line each, the fee as expected (within tolerance). */
export async function writeReport(path: string, n: number): Promise<number> {
  const out = createWriteStream(path);
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, "drain");
  };
  await write(
    "balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,reporting_category,source_id,payment_reference,payout_id\n",
  );
  let buf = "";
  for (let i = 1; i <= n; i++) {
    const gross = amountOf(i);
    // Every seventh fee a cent off: real reports are not exactly what was expected.
    const fee = expectedFeeOf(i) + (i % 7 === 0 ? 1 : 0);
    buf += `txn_${i},2026-12-01 10:00:05,2026-12-03 00:00:00,eur,${decimal(gross)},${decimal(fee)},${decimal(gross - fee)},charge,ch_${i},${paymentId(i)},po_bench\n`;
    if (buf.length > 64 * 1024) {
      await write(buf);
      buf = "";
    }
  }
  await write(buf);
  out.end();
  await once(out, "finish");
  return out.bytesWritten;
}
