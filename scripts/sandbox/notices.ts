// Each simulated PSP's notifications on the wire, signed its own way. acme words a happening as a
// Stripe-like event and signs each delivery attempt afresh (`Acme-Signature: t=…,v1=…`, HMAC of
// `t.body`); bolt words it as an Adyen-like batch of one item carrying its own HMAC over the named
// fields (base64, hex key), the same bytes on every attempt. Forging breaks exactly that signature.
// The signing is written here again, independently of the connectors' verification
// (actors/psp/notifications-*.ts), so that the contract tests check one against the other.
import { createHmac, randomBytes } from "node:crypto";
import { toDecimalString } from "../../actors/payment/core/money.ts";
import { chargeBody } from "./acme.ts";
import { CHALLENGE_FAILED } from "./bolt.ts";
import type { Happening } from "./later.ts";
import { randomId } from "./simulator.ts";

/** One notification as the PSP keeps it: sent, re-sent (replay) and forged from this. */
export type Notice = {
  /** The notification id the platform dedupes on (acme: the event id; bolt: Adyen's derivation). */
  id: string;
  psp: string;
  type: string;
  /** The payment it concerns (our payment id, as the platform sent it as reference). */
  reference: string;
  body: string;
};

export type Signer = {
  notice(h: Happening, at: Date): Notice;
  /** Headers of one delivery attempt; `forged` signs with a key that is not the PSP's. */
  headers(n: Notice, now: Date, forged: boolean): Record<string, string>;
  /** The body of a forged copy (bolt's signature is inside the body). */
  forgedBody(n: Notice): string;
};

const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data, "utf8");

export function acmeSigner(secret: string): Signer {
  return {
    notice(h, at) {
      const id = randomId("evt_", 24);
      const created = Math.floor(at.getTime() / 1000);
      const { type, object } = acmeEvent(h);
      const event = { id, object: "event", type, created, livemode: false, data: { object } };
      return { id, psp: "acme", type, reference: h.charge.reference, body: JSON.stringify(event) };
    },
    headers(_n, now, forged) {
      const t = Math.floor(now.getTime() / 1000);
      const key = forged ? randomBytes(32) : secret;
      return {
        "content-type": "application/json",
        "acme-signature": `t=${t},v1=${hmac(key, `${t}.${_n.body}`).digest("hex")}`,
      };
    },
    forgedBody: (n) => n.body,
  };
}

/** The signer's requests with HTTP basic auth added (`user:password`), when the PSP is configured so. */
export function withBasicAuth(signer: Signer, credentials: string | undefined): Signer {
  if (credentials === undefined) return signer;
  const authorization = `Basic ${Buffer.from(credentials, "utf8").toString("base64")}`;
  return { ...signer, headers: (n, now, forged) => ({ ...signer.headers(n, now, forged), authorization }) };
}

function acmeEvent(h: Happening): { type: string; object: Record<string, unknown> } {
  const c = h.charge;
  const meta = { reference: c.reference };
  switch (h.kind) {
    case "authorization":
      return {
        type:
          h.outcome === "declined"
            ? "payment_intent.payment_failed"
            : c.capturedAmount > 0
              ? "payment_intent.succeeded"
              : "payment_intent.amount_capturable_updated",
        object: chargeBody(c),
      };
    case "refund":
      return {
        type: h.refund.status === "failed" ? "refund.failed" : "charge.refunded",
        object: {
          id: h.refund.id,
          object: "refund",
          status: h.refund.status,
          charge: c.id,
          amount: toDecimalString(h.refund.amount, c.currency),
          currency: c.currency.toLowerCase(),
          metadata: meta,
          ...(h.refund.status === "failed" && { failure_reason: "lost_or_stolen_card" }),
        },
      };
    case "dispute_opened":
    case "dispute_closed":
      return {
        type: h.kind === "dispute_opened" ? "charge.dispute.created" : "charge.dispute.closed",
        object: {
          id: h.dispute.id,
          object: "dispute",
          charge: c.id,
          amount: toDecimalString(h.dispute.amount, h.dispute.currency),
          currency: h.dispute.currency.toLowerCase(),
          reason: h.dispute.reason,
          status: h.dispute.status === "open" ? "needs_response" : h.dispute.status,
          metadata: meta,
        },
      };
  }
}

type BoltItem = {
  eventCode: string;
  success: "true" | "false";
  pspReference: string;
  originalReference?: string;
  merchantAccountCode: string;
  merchantReference: string;
  amount: { value: number; currency: string };
  reason?: string;
  eventDate: string;
  additionalData: Record<string, string>;
};

export const BOLT_MERCHANT_ACCOUNT = "SwitchyardSandbox";

function boltSignature(keyHex: string | Buffer, i: BoltItem): string {
  const fields = [
    i.pspReference,
    i.originalReference ?? "",
    i.merchantAccountCode,
    i.merchantReference,
    i.amount.value,
    i.amount.currency,
    i.eventCode,
    i.success,
  ].join(":");
  const key = typeof keyHex === "string" ? Buffer.from(keyHex, "hex") : keyHex;
  return hmac(key, fields).digest("base64");
}

export function boltSigner(keyHex: string): Signer {
  const wrap = (item: BoltItem) =>
    JSON.stringify({ live: "false", notificationItems: [{ NotificationRequestItem: item }] });
  return {
    notice(h, at) {
      const item = boltItem(h, at);
      item.additionalData.hmacSignature = boltSignature(keyHex, item);
      const id = [item.pspReference, item.eventCode, item.success].join(":");
      return { id, psp: "bolt", type: item.eventCode, reference: h.charge.reference, body: wrap(item) };
    },
    headers: () => ({ "content-type": "application/json" }),
    forgedBody(n) {
      const batch = JSON.parse(n.body) as { notificationItems: Array<{ NotificationRequestItem: BoltItem }> };
      const item = batch.notificationItems[0]!.NotificationRequestItem;
      item.additionalData.hmacSignature = boltSignature(randomBytes(32), item);
      return wrap(item);
    },
  };
}

function boltItem(h: Happening, at: Date): BoltItem {
  const c = h.charge;
  const common = {
    merchantAccountCode: BOLT_MERCHANT_ACCOUNT,
    merchantReference: c.reference,
    eventDate: at.toISOString(),
  };
  switch (h.kind) {
    case "authorization": {
      const ok = h.outcome === "authorized";
      return {
        ...common,
        eventCode: "AUTHORISATION",
        success: ok ? "true" : "false",
        pspReference: c.id,
        amount: { value: c.amount, currency: c.currency },
        ...(!ok && { reason: CHALLENGE_FAILED[1] }),
        additionalData: ok
          ? { autoCapture: String(c.capturedAmount > 0) }
          : { refusalReasonCode: CHALLENGE_FAILED[2] },
      };
    }
    case "refund":
      return {
        ...common,
        eventCode: "REFUND",
        success: h.refund.status === "succeeded" ? "true" : "false",
        pspReference: h.refund.id,
        originalReference: c.id,
        amount: { value: h.refund.amount, currency: c.currency },
        ...(h.refund.status === "failed" && { reason: "Insufficient balance on payment" }),
        additionalData: {},
      };
    case "dispute_opened":
    case "dispute_closed": {
      // As Adyen sends them: pspReference is the dispute's own, originalReference the payment's.
      const d = h.dispute;
      const eventCode =
        h.kind === "dispute_opened"
          ? "NOTIFICATION_OF_CHARGEBACK"
          : d.status === "won"
            ? "CHARGEBACK_REVERSED"
            : "SECOND_CHARGEBACK";
      return {
        ...common,
        eventCode,
        success: "true",
        pspReference: d.id,
        originalReference: c.id,
        amount: { value: d.amount, currency: d.currency },
        reason: d.reason,
        additionalData: {
          disputePspReference: d.id,
          disputeStatus: d.status === "open" ? "Undefended" : d.status === "won" ? "Won" : "Lost",
        },
      };
    }
  }
}
