// Every operator change is in the audit trail, and a change whose record cannot be stored is not
// made: a gateway over the real AUDIT stream, which the second test deletes (in the run's own prefix)
// to make the trail really unavailable.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { expect } from "chai";
import { topology } from "../../streams/topology.ts";
import { NATS_URL } from "../support/infra.ts";
import { startTestPlatform, type TestPlatform } from "../support/platform.ts";

type Entry = { actor: string; action: string; fields: Record<string, unknown> };
type Trail = { entries: Entry[] };
type Rotation = { in: boolean; reason: string | null; by: string | null };
type Psps = { psps: Array<{ name: string; rotation: Rotation }> };
type Merchant = { keys: Array<{ key_id: string }> };

describe("operator changes in the audit trail (e2e)", function () {
  this.timeout(60_000);
  let p: TestPlatform;

  before(async () => {
    p = await startTestPlatform({ roles: ["gateway"] });
  });
  after(async () => {
    await p?.cleanup();
  });

  const rotationOf = async (psp: string) =>
    (await p.ops.get<Psps>("/ops/psps")).body.psps.find((x) => x.name === psp)?.rotation;

  it("records taking a PSP out of rotation and back in, with the operator and the reason", async () => {
    expect((await p.ops.post("/ops/psps/acme/out", { reason: "acme incident 42" })).status).to.equal(200);
    expect((await p.ops.post("/ops/psps/acme/in")).status).to.equal(200);
    const trail = await p.ops.get<Trail>("/ops/audit?action=psp");
    expect(trail.status).to.equal(200);
    expect(trail.body.entries.map(({ actor, action, fields }) => ({ actor, action, fields }))).to.deep.equal([
      { actor: "ops", action: "psp.out", fields: { psp: "acme", reason: "acme incident 42" } },
      { actor: "ops", action: "psp.in", fields: { psp: "acme", reason: null } },
    ]);
  });

  it("refuses a change whose audit record cannot be stored, and changes nothing", async () => {
    const keysBefore = (await p.ops.get<Merchant>("/ops/merchants/m_alpha")).body.keys.length;
    const nc = await connect({ servers: NATS_URL });
    try {
      await (
        await jetstreamManager(nc)
      ).streams.delete(topology(p.env.SWITCHYARD_PREFIX ?? "", 1).auditStream);
    } finally {
      await nc.close();
    }

    const out = await p.ops.post("/ops/psps/bolt/out", { reason: "not recorded" });
    expect(out.status).to.equal(503);
    expect(out.body.error?.code).to.equal("audit_unavailable");
    expect(await rotationOf("bolt")).to.include({ in: true, reason: null });

    const merchant = await p.ops.post("/ops/merchants", { id: "m_unaudited", name: "Unaudited" });
    expect(merchant.body.error?.code).to.equal("audit_unavailable");
    expect((await p.ops.get("/ops/merchants/m_unaudited")).status).to.equal(404);

    const key = await p.ops.post("/ops/merchants/m_alpha/keys", { scopes: ["payments:read"] });
    expect(key.body.error?.code).to.equal("audit_unavailable");
    expect((await p.ops.get<Merchant>("/ops/merchants/m_alpha")).body.keys).to.have.length(keysBefore);

    // A rebuild empties the read models: refused before anything is emptied (a rebuild records
    // where each must get back to: rebuild_to stays null when none began).
    const rebuild = await p.ops.post("/ops/read-models/all/rebuild");
    expect([rebuild.status, rebuild.body.error?.code]).to.deep.equal([503, "audit_unavailable"]);
    const models = await p.ops.get<{ read_models: Array<{ name: string; rebuild_to: number | null }> }>(
      "/ops/read-models",
    );
    expect(models.body.read_models.filter((m) => m.rebuild_to !== null)).to.deep.equal([]);
  });
});
