// SwitchyardClient.events reads the merchant events feed (PAY_OUT, built by the projector): only its
// merchant's events of the one payment, in order, through an ordered consumer. PAY_OUT is made here
// as topology.ts names it (in memory here), with a few events on it; without it (a deployment from
// before the feed), the client says events_unavailable.
import { expect } from "chai";
import { RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { SwitchyardClient, SwitchyardError, type MerchantEvent } from "../../streams/client/index.ts";
import { encode } from "../../streams/envelopes.ts";
import { merchantEventSubject } from "../../streams/topology.ts";
import { openInfra, type Infra } from "../support/infra.ts";

describe("SwitchyardClient.events over PAY_OUT (real NATS)", function () {
  this.timeout(30_000);
  let infra: Infra;
  let client: SwitchyardClient;

  before(async () => {
    infra = await openInfra({ partitions: 2 });
    client = await SwitchyardClient.attach(infra.nc, {
      prefix: infra.prefix,
      partitions: 2,
      merchantId: "m_alpha",
    });
  });
  after(async () => {
    await client?.close();
    await infra.jsm.streams.delete(infra.topo.merchantEventStream).catch(() => undefined);
    await infra?.close();
  });

  it("answers events_unavailable while the deployment has no PAY_OUT", async () => {
    // A deployment from before the feed: its topology has every stream but PAY_OUT.
    await infra.jsm.streams.delete(infra.topo.merchantEventStream).catch(() => undefined);
    try {
      for await (const _ of client.events("pay_a", { follow: false })) break;
      expect.fail("no error");
    } catch (err) {
      expect(err).to.be.instanceOf(SwitchyardError);
      expect((err as SwitchyardError).code).to.equal("events_unavailable");
    }
  });

  it("yields the payment's own events in order, none of another payment or merchant, and ends when asked not to follow", async () => {
    await infra.jsm.streams.delete(infra.topo.merchantEventStream).catch(() => undefined);
    await infra.jsm.streams.add({
      name: infra.topo.merchantEventStream,
      subjects: [`${infra.topo.merchantEventBase}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.Memory,
    });
    const put = (merchant: string, payment: string, type: string, n: number) =>
      infra.js.publish(
        merchantEventSubject(infra.topo, merchant, payment),
        encode({ id: `evt_${payment}_${n}`, type }),
        {
          msgID: `evt_${merchant}_${payment}_${n}`,
        },
      );
    await put("m_alpha", "pay_a", "payment.authorized", 1);
    await put("m_beta", "pay_a", "payment.authorized", 1);
    await put("m_alpha", "pay_b", "payment.authorized", 1);
    await put("m_alpha", "pay_a", "payment.captured", 2);
    await put("m_alpha", "pay_a", "refund.succeeded", 3);
    const seen: MerchantEvent[] = [];
    for await (const e of client.events("pay_a", { follow: false })) seen.push(e);
    expect(seen.map((e) => e.type)).to.deep.equal([
      "payment.authorized",
      "payment.captured",
      "refund.succeeded",
    ]);
    const none: MerchantEvent[] = [];
    for await (const e of client.events("pay_none", { follow: false })) none.push(e);
    expect(none).to.deep.equal([]);
    // Following: an event published later arrives.
    const live = client.events("pay_b");
    expect((await live.next()).value).to.include({ type: "payment.authorized" });
    const next = live.next();
    await put("m_alpha", "pay_b", "payment.captured", 2);
    expect((await next).value).to.include({ type: "payment.captured" });
    await live.return(undefined);
  });

  it("refuses a payment id that is not one", async () => {
    try {
      for await (const _ of client.events("pay.>", { follow: false })) break;
      expect.fail("no error");
    } catch (err) {
      expect((err as SwitchyardError).code).to.equal("validation_error");
    }
  });
});
