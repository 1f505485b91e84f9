// The sandbox PSPs settle what the platform's real adapters did, each in its own report format, and the
// platform's settlement parsers read those reports back: every movement once, under the references
// the adapters returned, fees near the policy's, a payout that adds up, discrepancies exactly as named.
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { expect } from "chai";
import { expectedFee } from "../../actors/policy/core/fees.ts";
import type { Region } from "../../actors/policy/core/schemas.ts";
import type { PspConnector } from "../../actors/psp/contract.ts";
import { createConnectors } from "../../actors/psp/registry.ts";
import { settlementParsers } from "../../actors/psp/settlement/index.ts";
import type { SettlementLine } from "../../actors/settlement/core/line.ts";
import { startSandbox, type Sandbox } from "../../scripts/sandbox-psp.ts";
import { defaultFeePolicy } from "../../scripts/sandbox/settlement-routes.ts";

const CARDS: Readonly<Record<string, { number: string; region: Region }>> = {
  us: { number: "4242424242424242", region: "international" },
  de: { number: "4012888888881881", region: "intra_eea" },
};
const policy = defaultFeePolicy();

type Closed = {
  report_id: string;
  batch: number;
  lines: number;
  url: string;
  injected: Array<{ kind: string; psp_reference: string; line_id: string }>;
};
type Expected = {
  kind: "capture" | "refund";
  ref: string;
  amount: number;
  currency: string;
  payment: string;
};

describe("sandbox settlement reports, read by the platform's parsers", () => {
  let sandbox: Sandbox;
  let connectors: Map<string, PspConnector>;
  beforeEach(async () => {
    sandbox = await startSandbox({ port: 0 });
    connectors = createConnectors({ sandboxUrl: sandbox.url, timeoutMs: 5000 });
  });
  afterEach(() => sandbox.close());

  const post = (path: string, body?: unknown, raw?: string) =>
    fetch(`${sandbox.url}${path}`, {
      method: "POST",
      ...(body !== undefined || raw !== undefined
        ? { headers: { "content-type": "application/json" }, body: raw ?? JSON.stringify(body) }
        : {}),
    });
  const close = async (psp: string, body?: unknown): Promise<Closed> => {
    const res = await post(`/_sandbox/psps/${psp}/settlements`, body);
    expect(res.status).to.equal(201);
    return (await res.json()) as Closed;
  };
  const download = async (url: string) => {
    const res = await fetch(`${sandbox.url}${url}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.match(/^text\/csv/);
    return res.text();
  };
  const parsed = async (psp: string, closed: Closed) => {
    const lines: SettlementLine[] = [];
    const csv = await download(closed.url);
    for await (const l of settlementParsers[psp]!(Readable.from([csv]), { reportId: closed.report_id })) {
      if (!l.ok) expect.fail(`line ${l.rejected.lineNo} rejected: ${l.rejected.reason}`);
      lines.push(l.line);
    }
    expect(lines).to.have.length(closed.lines);
    return lines;
  };

  for (const name of ["acme", "bolt"] as const) {
    describe(`${name}`, () => {
      const psp = () => connectors.get(name)!;
      const authorize = async (amount: number, currency: string, capture: boolean, card = CARDS.us!) => {
        const payment = `pay_${randomUUID().slice(0, 8)}`;
        const result = await psp().authorize({
          idempotencyKey: randomUUID(),
          reference: payment,
          amount,
          currency,
          capture,
          card: { number: card.number, expMonth: 3, expYear: new Date().getUTCFullYear() + 1, cvc: "123" },
        });
        if (result.outcome !== "authorized") expect.fail(JSON.stringify(result));
        return { payment, ref: result.pspReference };
      };
      const operate = async (op: "capture" | "refund", ref: string, amount: number, currency: string) => {
        const done = await psp()[op]({ idempotencyKey: randomUUID(), pspReference: ref, amount, currency });
        if (done.outcome !== "succeeded") expect.fail(JSON.stringify(done));
        return done.pspReference;
      };

      it("lists every capture and refund once, under the adapters' references, with fees and a payout that add up", async () => {
        const expected: Expected[] = [];
        const regionOf = new Map<string, Region>();
        // Captured at authorization (intra-EEA card): settled under the authorization's reference.
        const auto = await authorize(5000, "EUR", true, CARDS.de);
        expected.push({
          kind: "capture",
          ref: auto.ref,
          amount: 5000,
          currency: "EUR",
          payment: auto.payment,
        });
        regionOf.set(auto.ref, "intra_eea");
        // Authorized, partly captured, partly refunded (international card).
        const manual = await authorize(4990, "EUR", false);
        const capture = await operate("capture", manual.ref, 3000, "EUR");
        const refund = await operate("refund", manual.ref, 1000, "EUR");
        expected.push({
          kind: "capture",
          ref: capture,
          amount: 3000,
          currency: "EUR",
          payment: manual.payment,
        });
        expected.push({
          kind: "refund",
          ref: refund,
          amount: 1000,
          currency: "EUR",
          payment: manual.payment,
        });
        regionOf.set(capture, "international");
        // Voided: moves no money, on no line.
        const voided = await authorize(700, "EUR", false);
        const cancel = await psp().void({ idempotencyKey: randomUUID(), pspReference: voided.ref });
        if (cancel.outcome !== "succeeded") expect.fail(JSON.stringify(cancel));
        // JPY, no decimals: captured separately, refunded.
        const yen = await authorize(12345, "JPY", false);
        const yenCapture = await operate("capture", yen.ref, 12345, "JPY");
        const yenRefund = await operate("refund", yen.ref, 345, "JPY");
        expected.push({
          kind: "capture",
          ref: yenCapture,
          amount: 12345,
          currency: "JPY",
          payment: yen.payment,
        });
        expected.push({ kind: "refund", ref: yenRefund, amount: 345, currency: "JPY", payment: yen.payment });
        regionOf.set(yenCapture, "international");

        const first = await close(name);
        expect(first.batch).to.equal(1);
        expect(first.injected).to.deep.equal([]);
        const lines = await parsed(name, first);
        const payments = lines.filter((l) => l.kind === "capture" || l.kind === "refund");
        expect(
          payments.map((l) => [l.kind, l.pspReference, l.amount, l.currency, l.merchantReference]),
        ).to.have.deep.members(expected.map((e) => [e.kind, e.ref, e.amount, e.currency, e.payment]));
        expect(
          lines.some((l) => l.pspReference === cancel.pspReference || l.merchantReference === voided.payment),
        ).to.be.false;
        for (const line of payments.filter((l) => l.kind === "capture")) {
          const expectedFeeOf = expectedFee(policy, name, {
            amount: line.amount,
            currency: line.currency,
            brand: "visa",
            region: regionOf.get(line.pspReference!)!,
          });
          expect(line.fee, `${line.currency} fee`).to.be.greaterThan(0);
          if (expectedFeeOf === null) continue; // acme's fees price no JPY
          expect(line.fee).to.not.equal(expectedFeeOf);
          expect(Math.abs(line.fee - expectedFeeOf)).to.be.at.most(
            Math.max(2, Math.ceil(line.amount * 0.002)),
          );
        }
        for (const currency of ["EUR", "JPY"]) {
          const inCurrency = lines.filter((l) => l.currency === currency);
          const payout = inCurrency.filter((l) => l.kind === "payout");
          expect(payout, `${currency} payout`).to.have.length(1);
          const sum = inCurrency.filter((l) => l.kind !== "payout").reduce((s, l) => s + l.net, 0);
          expect(payout[0]!.amount).to.equal(Math.abs(sum));
          expect(payout[0]!.net).to.equal(-sum);
          expect(inCurrency.filter((l) => l.kind === "fee")).to.have.length(1);
        }

        // A closed report never changes; the next batch has only what happened since.
        expect(await download(first.url)).to.equal(await download(first.url));
        const later = await operate("refund", auto.ref, 500, "EUR");
        const second = await close(name);
        expect(second.batch).to.equal(2);
        const next = await parsed(name, second);
        expect(
          next.filter((l) => l.kind === "refund" || l.kind === "capture").map((l) => l.pspReference),
        ).to.deep.equal([later]);
        const listed = (await (await fetch(`${sandbox.url}/_sandbox/psps/${name}/settlements`)).json()) as {
          reports: Array<{ batch: number; url: string }>;
        };
        expect(listed.reports.map((r) => [r.batch, r.url])).to.deep.equal([
          [1, first.url],
          [2, second.url],
        ]);
      });

      it("injects exactly the discrepancies asked for, on the lines it names", async () => {
        const captures: string[] = [];
        for (let i = 0; i < 6; i++) captures.push((await authorize(1000 + i * 100, "EUR", true)).ref);
        const closed = await close(name, {
          discrepancies: { drop: 1, duplicate: 1, fee_off: 1, amount_off: 1, unknown: 1, defer: 1 },
        });
        const kinds = Object.fromEntries(closed.injected.map((i) => [i.kind, i]));
        expect(Object.keys(kinds)).to.have.members([
          "drop",
          "duplicate",
          "fee_off",
          "amount_off",
          "unknown",
          "defer",
        ]);
        const lines = await parsed(name, closed);
        const byId = (id: string) => lines.filter((l) => l.lineId === id);
        const byRef = (ref: string) => lines.filter((l) => l.pspReference === ref);
        expect(byRef(kinds.drop!.psp_reference)).to.have.length(0);
        expect(byRef(kinds.defer!.psp_reference)).to.have.length(0);
        expect(byId(kinds.duplicate!.line_id)).to.have.length(2);
        const amountOf = (ref: string) => 1000 + captures.indexOf(ref) * 100;
        const amountOff = byId(kinds.amount_off!.line_id);
        expect(amountOff).to.have.length(1);
        expect(amountOff[0]!.amount).to.be.greaterThan(amountOf(kinds.amount_off!.psp_reference) + 100);
        const feeOff = byId(kinds.fee_off!.line_id)[0]!;
        const feeExpected = expectedFee(policy, name, {
          amount: feeOff.amount,
          currency: "EUR",
          brand: "visa",
          region: "international",
        })!;
        expect(feeOff.fee).to.be.greaterThan(feeExpected + 100);
        const unknown = byId(kinds.unknown!.line_id);
        expect(unknown).to.have.length(1);
        expect(unknown[0]!.pspReference).to.equal(kinds.unknown!.psp_reference);
        expect(captures).to.not.include(kinds.unknown!.psp_reference);
        // Every capture not dropped nor deferred is there once (the duplicate twice).
        const untouched = captures.filter((c) => !closed.injected.some((i) => i.psp_reference === c));
        for (const ref of untouched) expect(byRef(ref), ref).to.have.length(1);

        const next = await parsed(name, await close(name));
        expect(next.filter((l) => l.kind === "capture").map((l) => l.lineId)).to.deep.equal([
          kinds.defer!.line_id,
        ]);
      });

      it("answers 200 with no report when nothing is pending, and refuses bad close bodies with a code", async () => {
        const empty = await post(`/_sandbox/psps/${name}/settlements`);
        expect(empty.status).to.equal(200);
        expect(await empty.json()).to.include({ lines: 0, batch: null, url: null });
        const refusals: Array<[unknown, string | undefined, number, string]> = [
          [{ discrepancies: { drop: -1 } }, undefined, 400, "invalid_body"],
          [{ discrepancies: { drop: "1" } }, undefined, 400, "invalid_body"],
          [{ discrepancies: { explode: 1 } }, undefined, 400, "invalid_body"],
          [{ other: true }, undefined, 400, "invalid_body"],
          [[], undefined, 400, "invalid_body"],
          [undefined, "{not json", 400, "invalid_json"],
          [{ discrepancies: { drop: 1 } }, undefined, 422, "not_enough_lines"],
        ];
        for (const [body, raw, status, code] of refusals) {
          const res = await post(`/_sandbox/psps/${name}/settlements`, body, raw);
          expect(res.status, JSON.stringify(body ?? raw)).to.equal(status);
          expect(((await res.json()) as { error: { code: string } }).error.code).to.equal(code);
        }
        expect((await post(`/_sandbox/psps/nope/settlements`, {})).status).to.equal(404);
        expect((await fetch(`${sandbox.url}/_sandbox/psps/${name}/settlements/nope.csv`)).status).to.equal(
          404,
        );
      });
    });
  }
});
