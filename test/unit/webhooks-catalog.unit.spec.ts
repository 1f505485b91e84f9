import { expect } from "chai";
import { Webhook } from "standardwebhooks";
import { catalog, merchantEventId, type CatalogEntry } from "../../actors/webhooks/core/catalog.ts";
import { sign, signedHeaders, WebhookSecretError } from "../../actors/webhooks/core/signature.ts";
import { PAYMENT_ID, evt, history, stateOf } from "./decider-spec.ts";

const types = (entries: CatalogEntry[]) => entries.map((e) => e.event.type);

describe("webhook catalog", () => {
  it("turns an authorization frame into payment.authorized with the view after it", () => {
    const before = stateOf(...history.authorizing());
    const { entries, after } = catalog(before, { firstEventNo: 4, events: [evt.authorized()] });
    expect(types(entries)).to.deep.equal(["payment.authorized"]);
    const [e] = entries;
    expect(e?.eventNo).to.equal(4);
    expect(e?.idx).to.equal(0);
    expect(e?.event.id).to.equal(merchantEventId(PAYMENT_ID, 4, "payment.authorized"));
    expect(e?.event.id).to.match(/^evt_[A-Za-z0-9_-]{24}$/);
    expect(e?.event.created).to.equal(evt.authorized().at);
    expect(e?.event.data.object.status).to.equal("authorized");
    expect(after?.status).to.equal("authorized");
  });

  it("names the captured payment, the capture, the cancel and the refunds", () => {
    expect(
      types(
        catalog(stateOf(...history.authorizing()), { firstEventNo: 4, events: [evt.authorized(1, true)] })
          .entries,
      ),
    ).to.deep.equal(["payment.captured"]);
    const authorized = stateOf(...history.authorized());
    expect(
      types(
        catalog(authorized, {
          firstEventNo: 5,
          events: [evt.opRequested("capture", 10_000), evt.opSucceeded()],
        }).entries,
      ),
    ).to.deep.equal(["payment.captured"]);
    expect(
      types(
        catalog(authorized, { firstEventNo: 5, events: [evt.opRequested("void", 10_000), evt.opSucceeded()] })
          .entries,
      ),
    ).to.deep.equal(["payment.canceled"]);
    const captured = stateOf(...history.captured());
    expect(
      types(
        catalog(captured, { firstEventNo: 5, events: [evt.opRequested("refund", 100), evt.opSucceeded()] })
          .entries,
      ),
    ).to.deep.equal(["refund.succeeded"]);
    expect(
      types(
        catalog(captured, { firstEventNo: 5, events: [evt.opRequested("refund", 100), evt.opFailed()] })
          .entries,
      ),
    ).to.deep.equal(["refund.failed"]);
    // A failed capture is not a merchant event of the catalog.
    expect(
      catalog(authorized, { firstEventNo: 5, events: [evt.opRequested("capture", 10_000), evt.opFailed()] })
        .entries,
    ).to.have.length(0);
  });

  it("names declines, failures and 3-D Secure, and says nothing of internal steps", () => {
    const all = catalog(undefined, {
      firstEventNo: 1,
      events: [...history.authorizing(), evt.authFailed(1), evt.authUnknown(1), evt.requiresAction()],
    });
    expect(types(all.entries)).to.deep.equal(["payment.requires_action"]);
    expect(all.entries[0]?.idx).to.equal(5);
    expect(all.entries[0]?.eventNo).to.equal(6);
    expect(
      types(
        catalog(stateOf(...history.authorizing()), { firstEventNo: 4, events: [evt.declined()] }).entries,
      ),
    ).to.deep.equal(["payment.declined"]);
    expect(
      types(
        catalog(stateOf(...history.authorizing()), { firstEventNo: 4, events: [evt.failed("no_psp")] })
          .entries,
      ),
    ).to.deep.equal(["payment.failed"]);
  });

  it("names an expiry (and not its void), a dispute opened and closed, an accepted refund's outcome", () => {
    const expiredAt = "2025-03-01T11:00:00.000Z";
    const expiry = catalog(stateOf(...history.requiresAction()), {
      firstEventNo: 5,
      events: [
        { type: "PaymentExpired", attemptNo: 1, at: expiredAt },
        { ...evt.opRequested("void", 10_000, "op_v") },
      ],
    });
    expect(types(expiry.entries)).to.deep.equal(["payment.expired"]);
    expect(expiry.entries[0]?.event.data.object.status).to.equal("expired");
    const voided = catalog(expiry.after, { firstEventNo: 7, events: [evt.opSucceeded("op_v")] });
    expect(voided.entries).to.have.length(0);
    const captured = stateOf(...history.captured());
    const disputes = catalog(captured, {
      firstEventNo: 5,
      events: [
        {
          type: "DisputeOpened",
          disputeId: "dp_1",
          psp: "bolt",
          amount: 10_000,
          currency: "EUR",
          reason: "fraud",
          at: expiredAt,
        },
        { type: "DisputeClosed", disputeId: "dp_1", outcome: "won", at: expiredAt },
      ],
    });
    expect(types(disputes.entries)).to.deep.equal(["payment.disputed", "dispute.closed"]);
    const refund = catalog(captured, {
      firstEventNo: 5,
      events: [
        evt.opRequested("refund", 100),
        { type: "OperationAccepted", operationId: "op_1", pspReference: "r_1", at: expiredAt },
      ],
    });
    expect(refund.entries).to.have.length(0);
    expect(
      types(catalog(refund.after, { firstEventNo: 7, events: [evt.opSucceeded()] }).entries),
    ).to.deep.equal(["refund.succeeded"]);
  });

  it("gives the same ids to the same frame read twice, and other ids to other events", () => {
    const before = stateOf(...history.authorizing());
    const a = catalog(before, { firstEventNo: 4, events: [evt.authorized()] });
    const b = catalog(before, { firstEventNo: 4, events: [evt.authorized()] });
    expect(a.entries[0]?.event.id).to.equal(b.entries[0]?.event.id);
    expect(merchantEventId(PAYMENT_ID, 5, "payment.authorized")).to.not.equal(
      merchantEventId(PAYMENT_ID, 4, "payment.authorized"),
    );
    expect(merchantEventId(PAYMENT_ID, 4, "payment.captured")).to.not.equal(
      merchantEventId(PAYMENT_ID, 4, "payment.authorized"),
    );
  });
});

describe("webhook signature", () => {
  const secret = `whsec_${Buffer.from("a-test-secret-of-32-bytes-000000").toString("base64")}`;
  const previous = `whsec_${Buffer.from("an-older-secret-of-32-bytes-0000").toString("base64")}`;
  const body = JSON.stringify({ id: "evt_1", type: "payment.captured" });

  it("verifies with the official standardwebhooks package, as a merchant would", () => {
    const headers = signedHeaders([secret], "evt_1", new Date(), body);
    expect(headers["webhook-signature"]).to.match(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, headers)).to.deep.equal(JSON.parse(body));
    // The package's own signature is ours, byte for byte.
    const at = new Date(Number(headers["webhook-timestamp"]) * 1000);
    expect(new Webhook(secret).sign("evt_1", at, body)).to.equal(headers["webhook-signature"]);
  });

  it("signs with both secrets during a rotation, and either verifies", () => {
    const headers = signedHeaders([secret, previous], "evt_2", new Date(), body);
    expect(headers["webhook-signature"].split(" ")).to.have.length(2);
    expect(() => new Webhook(secret).verify(body, headers)).to.not.throw();
    expect(() => new Webhook(previous).verify(body, headers)).to.not.throw();
  });

  it("fails verification for a changed body or another secret", () => {
    const headers = signedHeaders([secret], "evt_3", new Date(), body);
    expect(() => new Webhook(secret).verify(`${body} `, headers)).to.throw();
    expect(() => new Webhook(previous).verify(body, headers)).to.throw();
  });

  it("refuses a secret that is not base64, without quoting it", () => {
    expect(() => sign("whsec_not base64!", "evt_1", 1, body))
      .to.throw(WebhookSecretError)
      .with.property("message")
      .that.does.not.include("not base64!");
  });
});
