// The worker's checks of commands published to NATS by internal systems (actors/command-checks.ts):
// each refusal answers a typed error on the command's reply subject and leaves a dead letter with its
// reason; a card number in clear is erased from PAY_CMD, masked in the dead letter and never logged.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { issueCardToken } from "../../actors/payment/card-seal.ts";
import type { CardTokenPublic } from "../../actors/payment/core/card-token.ts";
import { paymentIdFor } from "../../actors/payment/core/ids.ts";
import { buildCreate, buildFollowUp } from "../../streams/client/commands.ts";
import { commandSubject, partitionOf } from "../../streams/topology.ts";
import { capturingLogger } from "../support/log-capture.ts";
import { cardToken, RawSender } from "../support/nats-client.ts";
import { paymentBody, startTestPlatform, untilPayment, type TestPlatform } from "../support/platform.ts";
import { waitFor } from "../support/wait.ts";

const PAN = "4242424242424242";

describe("worker checks of commands from internal systems (real NATS, worker and gateway)", function () {
  this.timeout(60_000);
  let p: TestPlatform;
  let raw: RawSender;
  const captured = capturingLogger("debug");
  const alpha = () => p.merchants[0]!;
  const beta = () => p.merchants[1]!;
  const key = () => randomBytes(8).toString("hex");

  before(async () => {
    p = await startTestPlatform({ log: captured.log });
    raw = await RawSender.open(p.env, "m_alpha");
  });
  after(async () => {
    await raw?.close();
    await p?.cleanup();
  });

  function create(token: string, merchant = "m_alpha") {
    return buildCreate(
      merchant,
      { idempotencyKey: key(), amount: 1200, currency: "EUR", capture: "manual", cardToken: token },
      new Date(),
    );
  }

  const refusedInputs = () => p.metrics.registry.getSingleMetricAsString("switchyard_inputs_refused_total");

  async function refused(subject: string, body: unknown, code: string, reason: string) {
    const { seq, token } = await raw.publish(subject, body);
    const reply = await raw.reply(token);
    expect(reply.kind).to.equal("rejected");
    expect(reply.rejection?.code, JSON.stringify(reply)).to.equal(code);
    const dead = await raw.deadLetter(seq);
    expect(dead.reason).to.equal(reason);
    return { reply, dead, seq };
  }

  it("refuses a command that fails its schema: validation_error naming the fields, dead letter undecodable", async () => {
    const id = paymentIdFor("m_alpha", key());
    const { reply } = await refused(
      commandSubject(raw.topo, "m_alpha", id),
      { v: 1, command: { type: "CreatePayment", paymentId: id, merchantId: "m_alpha" } },
      "validation_error",
      "undecodable",
    );
    expect(JSON.stringify(reply.rejection?.details)).to.include("command.amount");
  });

  it("refuses an envelope of an unknown version with unsupported_version", async () => {
    const id = paymentIdFor("m_alpha", key());
    await refused(
      commandSubject(raw.topo, "m_alpha", id),
      { v: 2, command: {} },
      "unsupported_version",
      "unsupported_version",
    );
  });

  it("refuses a command whose JSON repeats a key with duplicate_key, the path named, and appends nothing", async () => {
    const t = await cardToken(p, alpha());
    const b = create(t.token);
    const text = JSON.stringify(b.envelope);
    // The amount twice, the second written as an escape: JSON.parse would have taken 999999.
    const twice = text.replace('"amount":1200', '"amount":1200,"\\u0061mount":999999');
    expect(twice).not.to.equal(text);
    const { reply } = await refused(
      commandSubject(raw.topo, "m_alpha", b.paymentId),
      twice,
      "duplicate_key",
      "duplicate_key",
    );
    expect(reply.rejection?.details).to.deep.equal({
      issues: [{ path: "command.amount", code: "duplicate_key" }],
    });
    expect(await p.worker!.journal.history(b.paymentId)).to.deep.equal([]);
    expect(await refusedInputs()).to.match(/edge="nats",code="duplicate_key"\} [1-9]/);
    // The same command sent once is taken.
    const { token } = await raw.publish(commandSubject(raw.topo, "m_alpha", b.paymentId), text);
    expect((await raw.reply(token)).kind).to.equal("settled");
  });

  it("refuses a command whose bytes are not UTF-8 (a Latin-1 reference) with validation_error, and appends nothing", async () => {
    const t = await cardToken(p, alpha());
    const b = create(t.token);
    const text = JSON.stringify({ ...b.envelope, command: { ...b.envelope.command, reference: "café" } });
    const { reply, dead } = await refused(
      commandSubject(raw.topo, "m_alpha", b.paymentId),
      Buffer.from(text, "latin1"),
      "validation_error",
      "undecodable",
    );
    expect(JSON.stringify(reply.rejection?.details)).to.include("not_utf8");
    expect(dead.reason).to.equal("undecodable");
    expect(await p.worker!.journal.history(b.paymentId)).to.deep.equal([]);
    expect(await refusedInputs()).to.match(/edge="nats",code="not_utf8"\} [1-9]/);
  });

  it("refuses a command whose merchant is not the subject's with merchant_mismatch", async () => {
    const t = await cardToken(p, beta());
    const b = create(t.token, "m_beta");
    await refused(
      commandSubject(raw.topo, "m_alpha", b.paymentId),
      b.envelope,
      "merchant_mismatch",
      "merchant_mismatch",
    );
    expect((await p.api(beta()).get(`/v1/payments/${b.paymentId}`)).status).to.equal(404);
  });

  it("refuses a command on a subject of another payment or partition with subject_mismatch", async () => {
    const t = await cardToken(p, alpha());
    const b = create(t.token);
    const wrong = paymentIdFor("m_alpha", key());
    await refused(
      commandSubject(raw.topo, "m_alpha", wrong),
      b.envelope,
      "subject_mismatch",
      "subject_mismatch",
    );
    const other = (partitionOf(raw.topo, b.paymentId) + 1) % raw.topo.partitions;
    await refused(
      `${raw.topo.commandBase}.${other}.m_alpha.${b.paymentId}`,
      b.envelope,
      "subject_mismatch",
      "subject_mismatch",
    );
  });

  it("answers payment_not_found to a follow-up on another merchant's payment, dead-letters it foreign_payment, and leaves the payment alone", async () => {
    const res = await p.api(beta()).post("/v1/payments", paymentBody({ capture: "manual" }), key());
    expect(res.status).to.equal(201);
    const theirs = res.body.id;
    const f = buildFollowUp("m_alpha", theirs, "capture", { idempotencyKey: key() }, new Date());
    await refused(
      commandSubject(raw.topo, "m_alpha", theirs),
      f.envelope,
      "payment_not_found",
      "foreign_payment",
    );
    const after = await p.api(beta()).get(`/v1/payments/${theirs}`);
    expect(after.body.status).to.equal("authorized");
    expect(after.body.captured_amount).to.equal(0);
  });

  it("answers payment_not_found to a create landing on another merchant's payment, without showing it", async () => {
    const t = await cardToken(p, beta());
    const b = create(t.token, "m_beta");
    const first = await raw.publish(commandSubject(raw.topo, "m_beta", b.paymentId), b.envelope, {
      replyTo: null,
    });
    await untilPayment(p.api(beta()), b.paymentId, "beta's payment", (v) => v.status === "authorized");
    // The same command, claimed for m_alpha, with a token of m_alpha: the payment id is beta's.
    const ta = await cardToken(p, alpha());
    const forged = {
      ...b.envelope,
      command: { ...b.envelope.command, merchantId: "m_alpha" },
      cardToken: ta.token,
    };
    const { reply } = await refused(
      commandSubject(raw.topo, "m_alpha", b.paymentId),
      forged,
      "payment_not_found",
      "foreign_payment",
    );
    expect(JSON.stringify(reply)).not.to.include("m_beta");
    expect(first.seq).to.be.greaterThan(0);
  });

  it("refuses unusable card tokens: garbage, altered, another merchant's (card_token_invalid) and expired (card_token_expired)", async () => {
    const t = await cardToken(p, alpha());
    const b = create(t.token);
    const subject = commandSubject(raw.topo, "m_alpha", b.paymentId);
    await refused(
      subject,
      { ...b.envelope, cardToken: "ct1.garbage.v2.x.y" },
      "card_token_invalid",
      "card_token_invalid",
    );
    const last = t.token.at(-2) === "A" ? "B" : "A";
    const altered = `${t.token.slice(0, -2)}${last}${t.token.at(-1)}`;
    await refused(subject, { ...b.envelope, cardToken: altered }, "card_token_invalid", "card_token_invalid");
    const theirs = await cardToken(p, beta());
    await refused(
      subject,
      { ...b.envelope, cardToken: theirs.token },
      "card_token_invalid",
      "card_token_invalid",
    );
    const [pub] = t.token.split(".").slice(1, 2);
    const facts = JSON.parse(Buffer.from(pub!, "base64url").toString("utf8")) as CardTokenPublic;
    const expired = issueCardToken(
      Buffer.from(p.env.SWITCHYARD_CARD_KEY!, "hex"),
      "m_alpha",
      { number: PAN, expMonth: 12, expYear: 2031, cvc: "123" },
      { ...facts, expires_at: new Date(Date.now() - 1000).toISOString() },
    );
    await refused(subject, { ...b.envelope, cardToken: expired }, "card_token_expired", "card_token_expired");
    expect((await p.api(alpha()).get(`/v1/payments/${b.paymentId}`)).status).to.equal(404);
  });

  it("takes the card's facts from the token, never from what the sender wrote", async () => {
    const t = await cardToken(p, alpha());
    const b = create(t.token);
    const lying = {
      ...b.envelope,
      command: {
        ...b.envelope.command,
        card: {
          ...(b.envelope.command as { card: object }).card,
          last4: "0000",
          brand: "amex",
          binCountry: "FR",
        },
      },
    };
    const { token } = await raw.publish(commandSubject(raw.topo, "m_alpha", b.paymentId), lying);
    const reply = await raw.reply(token);
    expect(reply.kind, JSON.stringify(reply)).to.equal("settled");
    expect(reply.payment?.card).to.include({ last4: "4242", brand: "visa", bin_country: "US" });
  });

  it("erases a command holding a card number in clear from PAY_CMD, keeps only a masked dead letter, and logs no card number", async () => {
    const t = await cardToken(p, alpha());
    const b = create(t.token);
    const subject = commandSubject(raw.topo, "m_alpha", b.paymentId);
    const spaced = "4242 4242 4242 4242";
    const withPan = { ...b.envelope, command: { ...b.envelope.command, reference: `order ${spaced}` } };
    const one = await refused(subject, withPan, "card_number_in_free_text", "card_number_in_command");
    // Not even JSON, and the number escaped in JSON: the bytes and the parsed text are both scanned.
    const two = await refused(
      subject,
      `card=${PAN}; not json`,
      "card_number_in_free_text",
      "card_number_in_command",
    );
    const escaped = JSON.stringify(withPan).replace(`order ${spaced}`, "\\u0034242424242424242");
    const three = await refused(subject, escaped, "card_number_in_free_text", "card_number_in_command");
    for (const { dead, seq } of [one, two, three]) {
      expect(dead.redacted).to.equal(true);
      const stored = Buffer.from(dead.data, "base64").toString("utf8");
      expect(stored.replace(/[ -]/g, "")).not.to.include(PAN);
      expect(stored).to.match(/\*{4}/);
      const left = await raw.jsm.streams.getMessage(raw.topo.commandStream, { seq }).catch(() => null);
      expect(left, `PAY_CMD #${seq} erased`).to.equal(null);
    }
    expect(one.dead.error).not.to.include("4242");
    // A masked copy is not a command: an operator cannot put it back.
    const redrive = await p.ops.post<{ error?: { code: string } }>(
      `/ops/dead-letters/${one.dead.id}/redrive`,
      {
        reason: "try",
      },
    );
    expect(redrive.status).to.equal(409);
    expect(redrive.body.error?.code).to.equal("invalid_state_transition");
    // Nothing of the stream holds it: every message left in PAY_CMD, every dead letter, every log line.
    const info = await raw.jsm.streams.info(raw.topo.commandStream);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await raw.jsm.streams.getMessage(raw.topo.commandStream, { seq }).catch(() => null);
      if (m) expect(Buffer.from(m.data).toString("utf8").replace(/[ -]/g, "")).not.to.include(PAN);
    }
    for (const d of await raw.dlq.list({ limit: 1000 }))
      expect(Buffer.from(d.data, "base64").toString("utf8").replace(/[ -]/g, "")).not.to.include(PAN);
    const logs = captured.lines.join("");
    expect(logs.replace(/[ -]/g, "")).not.to.include(PAN);
    expect(logs).to.include("command refused");
    const metrics = await (await fetch(`${p.url}/metrics`)).text();
    expect(metrics).to.match(/switchyard_commands_refused_total\{reason="card_number_in_command"\} [3-9]/);
  });

  it("answers only into the sender's own inbox: a reply asked elsewhere is not sent, and the command is still handled", async () => {
    const t = await cardToken(p, alpha());
    const b = create(t.token);
    const elsewhere: string[] = [];
    const sub = raw.nc.subscribe(`${raw.topo.replyBase}.m_beta.>`, {
      callback: (_e, m) => {
        elsewhere.push(m.subject);
      },
    });
    const evt = raw.nc.subscribe(`${raw.topo.eventBase}.spoofed`, {
      callback: (_e, m) => {
        elsewhere.push(m.subject);
      },
    });
    await raw.publish(commandSubject(raw.topo, "m_alpha", b.paymentId), b.envelope, {
      replyTo: `${raw.topo.replyBase}.m_beta.x.1`,
    });
    const c = create(t.token);
    await raw.publish(commandSubject(raw.topo, "m_alpha", c.paymentId), c.envelope, {
      replyTo: `${raw.topo.eventBase}.spoofed`,
    });
    await untilPayment(p.api(alpha()), b.paymentId, "the first payment", (v) => v.status === "authorized");
    await untilPayment(p.api(alpha()), c.paymentId, "the second payment", (v) => v.status === "authorized");
    await waitFor(
      async () =>
        /switchyard_command_replies_refused_total [2-9]/.test(await (await fetch(`${p.url}/metrics`)).text()),
      {
        timeoutMs: 10_000,
        what: "two refused replies counted",
      },
    );
    await raw.nc.flush();
    sub.unsubscribe();
    evt.unsubscribe();
    expect(elsewhere).to.deep.equal([]);
  });

  it("still handles a command stored on the subject layout before merchants were in it", async () => {
    const res = await p.api(alpha()).post("/v1/payments", paymentBody({ capture: "manual" }), key());
    const id = res.body.id;
    const f = buildFollowUp("m_alpha", id, "capture", { idempotencyKey: key() }, new Date());
    const { token } = await raw.publish(
      `${raw.topo.commandBase}.${partitionOf(raw.topo, id)}.${id}`,
      f.envelope,
    );
    const reply = await raw.reply(token);
    expect(reply.kind, JSON.stringify(reply)).to.equal("settled");
    expect(reply.payment?.status).to.equal("captured");
  });
});
