// What the worker checks of a command as it comes off PAY_CMD, before any actor sees it: a card
// number anywhere in its bytes (first, so nothing below can echo one), a key repeated in one of its
// objects, its schema and version, text no store can hold, that its subject is its own (partition,
// payment, and the merchant the server let the sender publish for), and a card token's seal and
// expiry (the token then becomes the sealed card the actor expects, with the facts taken from the
// token); bytes that are not UTF-8 are refused too. Each refusal is typed: a reason for the dead
// letter and the metric, and the error code, message and details the sender gets back (the HTTP
// API's codes where one exists: docs/nats-client.md has the table). Messages and details name
// fields and reasons, never a value from the command.
import { isUtf8 } from "node:buffer";
import { containsCardNumber } from "./payment/core/card-in-text.ts";
import { binCountryOf, brandOf, last4Of } from "./payment/core/card.ts";
import { findUnsafeText, UNSAFE_TEXT } from "./payment/core/contract.ts";
import { DUPLICATE_KEY_MESSAGE, findDuplicateKey } from "./payment/core/json-keys.ts";
import { CommandEnvelope, type CommandReply } from "./payment/core/wire.ts";
import { CardTokenError, openCardToken, sealCard } from "./payment/card-seal.ts";
import { NO_MERCHANT_TOKEN, parseCommandSubject, partitionOf, type Topology } from "../streams/topology.ts";
import { PoisonReason } from "./fate.ts";
import { textOf } from "../streams/envelopes.ts";

export type Refusal = {
  reason: PoisonReason;
  code: string;
  message: string;
  details?: Record<string, unknown>;
  /** The message holds a card number: dead letter masked, original erased. */
  redact?: boolean;
  /** What was refused, for switchyard_inputs_refused_total (nul_character, lone_surrogate, too_deep, not_utf8, duplicate_key). */
  problem?: string;
};

export type Checked = { ok: true; envelope: CommandEnvelope } | { ok: false; refusal: Refusal };

export type CheckContext = { topo: Topology; cardKeys: readonly Buffer[] };

const refuse = (r: Refusal): Checked => ({ ok: false, refusal: r });

/** The command in `data` (parsed as `raw`), checked; a CreatePayment's card token opened and resealed. */
export function checkCommand(
  ctx: CheckContext,
  raw: unknown,
  meta: { subject: string; storedAtMs: number },
  data: Uint8Array,
): Checked {
  const text = textOf(data);
  if (holdsCardNumber(raw, meta.subject, text))
    return refuse({
      reason: PoisonReason.cardNumberInCommand,
      code: "card_number_in_free_text",
      message:
        "the command holds what looks like a card number in clear: a card travels only as a card token (cardToken)",
      redact: true,
    });
  // Bytes that are not UTF-8 were read as U+FFFD: what would be stored is not what was sent.
  if (!isUtf8(data))
    return refuse({
      reason: PoisonReason.undecodable,
      code: "validation_error",
      message: "the command is not valid UTF-8: JSON is UTF-8",
      details: { issues: [{ path: "(root)", code: "not_utf8", message: "not valid UTF-8" }] },
      problem: "not_utf8",
    });
  // As HTTP refuses a body that repeats a key: JSON.parse kept the last, another reader the first.
  const duplicate = raw === undefined ? undefined : findDuplicateKey(text);
  if (duplicate !== undefined)
    return refuse({
      reason: PoisonReason.duplicateKey,
      code: "duplicate_key",
      message: `${duplicate}: ${DUPLICATE_KEY_MESSAGE}`,
      details: { issues: [{ path: duplicate, code: "duplicate_key" }] },
      problem: "duplicate_key",
    });
  const version = (raw as { v?: unknown } | null | undefined)?.v;
  if (typeof raw === "object" && raw !== null && version !== undefined && version !== 1)
    return refuse({
      reason: PoisonReason.unsupportedVersion,
      code: "unsupported_version",
      message: "this worker reads command envelopes of version 1 only",
      details: { supported: [1] },
    });
  const parsed = CommandEnvelope.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => ({ path: i.path.join(".") || "(root)", code: i.code, message: i.message }));
    return refuse({
      reason: PoisonReason.undecodable,
      code: "validation_error",
      message: issues.map((i) => `${i.path}: ${i.message}`).join("; ") || "not a command envelope",
      details: { issues },
    });
  }
  const envelope = parsed.data;
  // What an internal publisher sent is refused as HTTP refuses it: appended, it would stop every
  // follower that writes it to PostgreSQL. Its path only, never the value.
  const unsafe = findUnsafeText(envelope);
  if (unsafe !== undefined)
    return refuse({
      reason: PoisonReason.invalidText,
      code: "invalid_characters",
      message: `${unsafe.path}: ${UNSAFE_TEXT[unsafe.problem]}`,
      details: { issues: [{ path: unsafe.path, code: unsafe.problem }] },
      problem: unsafe.problem,
    });
  const subjectRefusal = checkSubject(ctx.topo, meta.subject, envelope);
  if (subjectRefusal) return refuse(subjectRefusal);
  if (envelope.cardToken === undefined) return { ok: true, envelope };
  return openToken(ctx, envelope, envelope.cardToken, new Date(meta.storedAtMs));
}

/** The bytes as sent, and the parsed body written back (a `\u0034…` escape is a digit once parsed). */
function holdsCardNumber(raw: unknown, subject: string, text: string): boolean {
  if (containsCardNumber(subject)) return true;
  if (containsCardNumber(text)) return true;
  // A digit differs once parsed only when written as an escape: the parsed text is scanned then only.
  return raw !== undefined && text.includes("\\u") && containsCardNumber(JSON.stringify(raw));
}

function checkSubject(t: Topology, subject: string, e: CommandEnvelope): Refusal | undefined {
  const c = e.command;
  const address = parseCommandSubject(t, subject);
  if (!address || address.paymentId !== c.paymentId || address.partition !== partitionOf(t, c.paymentId))
    return {
      reason: PoisonReason.subjectMismatch,
      code: "subject_mismatch",
      message:
        "the subject is not this command's: publish to <base>.pay.cmd.<partition>.<merchantId>.<paymentId> (commandSubject)",
    };
  // The old layout (stored before the upgrade) names no merchant: nothing to hold it to.
  if (address.merchant === undefined) return undefined;
  if (address.merchant !== (c.merchantId ?? NO_MERCHANT_TOKEN))
    return {
      reason: PoisonReason.merchantMismatch,
      code: "merchant_mismatch",
      message: "the command's merchantId is not the merchant of the subject it was published to",
    };
  return undefined;
}

function openToken(ctx: CheckContext, e: CommandEnvelope, token: string, storedAt: Date): Checked {
  const c = e.command;
  if (c.type !== "CreatePayment" || e.sealedCard !== undefined)
    return refuse({
      reason: PoisonReason.undecodable,
      code: "validation_error",
      message: "cardToken: only a CreatePayment may carry one, and not with sealedCard",
      details: { issues: [{ path: "cardToken", code: "not_allowed", message: "not allowed here" }] },
    });
  const key = ctx.cardKeys[0];
  if (key === undefined) throw new Error("no card key to seal with");
  try {
    const { card, facts } = openCardToken(ctx.cardKeys, token, c.merchantId, storedAt);
    const command = {
      ...c,
      // From the card and the token, never from what the sender wrote in `card`.
      card: {
        brand: brandOf(card.number),
        last4: last4Of(card.number),
        binCountry: binCountryOf(card.number),
        fingerprint: facts.fingerprint,
        expMonth: card.expMonth,
        expYear: card.expYear,
      },
    };
    return { ok: true, envelope: { v: 1, command, sealedCard: sealCard(key, card, c.paymentId) } };
  } catch (err) {
    if (!(err instanceof CardTokenError)) throw err;
    return refuse({
      reason:
        err.code === "card_token_expired" ? PoisonReason.cardTokenExpired : PoisonReason.cardTokenInvalid,
      code: err.code,
      message: err.message,
    });
  }
}

const NOT_FOUND: Refusal = {
  reason: PoisonReason.foreignPayment,
  code: "payment_not_found",
  message: "no such payment for this merchant",
};

/**
 * Whether the command reached a payment of another merchant (a sender that made up a payment id, or
 * took another merchant's): answered as HTTP does, payment_not_found, and dead-lettered for
 * operators. The actor decided nothing for it: a follow-up of another merchant is rejected
 * payment_not_found by the decider, a create that lands on another merchant's payment repeats its
 * first result, which is that merchant's payment and not to be shown. Reads the payment only when
 * the decider said payment_not_found to a follow-up (a rare answer): nothing on the usual path.
 */
export async function foreignPayment(
  journal: { load(paymentId: string): Promise<{ state: { merchantId: string } | undefined }> },
  c: CommandEnvelope["command"],
  reply: CommandReply | undefined,
): Promise<Refusal | undefined> {
  if (c.merchantId === undefined || reply === undefined) return undefined;
  if (reply.kind !== "rejected") return reply.payment.merchant_id === c.merchantId ? undefined : NOT_FOUND;
  if (reply.rejection.code !== "payment_not_found") return undefined;
  if (c.type !== "CapturePayment" && c.type !== "RefundPayment" && c.type !== "CancelPayment")
    return undefined;
  const owner = (await journal.load(c.paymentId)).state?.merchantId;
  return owner !== undefined && owner !== c.merchantId ? NOT_FOUND : undefined;
}
