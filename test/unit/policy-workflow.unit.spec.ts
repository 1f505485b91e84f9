// The policy workflow's rules without a store: what rollback walks back to, which changes are
// refused and with which code, when activating changes nothing and when it ends the shadow.
// test/int/policy-store.int.spec.ts runs the same rules through the KV store on real NATS.
import { expect } from "chai";
import {
  activationStack,
  changesNothing,
  checkShadowCandidate,
  endsShadow,
  promoteTarget,
  requireVersion,
  rollbackTarget,
  PolicyStoreError,
  type LoggedActivation,
} from "../../actors/policy/core/workflow.ts";

const seed = (version: number): LoggedActivation => ({ version, op: "seed" });
const activate = (version: number): LoggedActivation => ({ version, op: "activate" });
const rollback = (version: number): LoggedActivation => ({ version, op: "rollback" });
const promote = (version: number): LoggedActivation => ({ version, op: "promote" });

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(PolicyStoreError);
    return (err as PolicyStoreError).code;
  }
  return expect.fail("expected a refusal");
}

describe("policy workflow", () => {
  it("walks rollbacks back through the activations: 1, 2, 3 → 2 → 1 → refused", () => {
    const log = [seed(1), activate(2), activate(3)];
    expect(rollbackTarget("routing", log)).to.equal(2);
    log.push(rollback(2));
    expect(rollbackTarget("routing", log)).to.equal(1);
    log.push(rollback(1));
    expect(activationStack(log)).to.deep.equal([1]);
    expect(refusal(() => rollbackTarget("routing", log))).to.equal("no_previous_version");
  });

  it("counts an activation of the active version, and a promote, once on the stack", () => {
    expect(activationStack([seed(1), activate(2), activate(2), promote(3)])).to.deep.equal([1, 2, 3]);
    expect(activationStack([])).to.deep.equal([]);
    expect(refusal(() => rollbackTarget("fees", [seed(1)]))).to.equal("no_previous_version");
  });

  it("makes activating the active version a no-op, but not a rollback or a promote to it", () => {
    expect(changesNothing(activate(2), 2, "activate")).to.equal(true);
    expect(changesNothing(activate(2), 3, "activate")).to.equal(false);
    expect(changesNothing(activate(2), 2, "promote")).to.equal(false);
    expect(changesNothing(activate(2), 2, "rollback")).to.equal(false);
    expect(changesNothing(undefined, 1, "activate")).to.equal(false);
  });

  it("refuses a version that is not stored, a shadow that is the active version, a promote without shadow", () => {
    expect(requireVersion({ v: 1 }, "routing", 1)).to.deep.equal({ v: 1 });
    expect(refusal(() => requireVersion(undefined, "routing", 9))).to.equal("policy_version_not_found");
    expect(() => checkShadowCandidate(3, 2)).not.to.throw();
    expect(() => checkShadowCandidate(3, undefined)).not.to.throw();
    expect(refusal(() => checkShadowCandidate(2, 2))).to.equal("shadow_is_active");
    expect(promoteTarget({ version: 4 })).to.equal(4);
    expect(refusal(() => promoteTarget(undefined))).to.equal("no_shadow_version");
  });

  it("ends the shadow when its routing version becomes active, and only then", () => {
    expect(endsShadow("routing", 3, { version: 3 })).to.equal(true);
    expect(endsShadow("routing", 2, { version: 3 })).to.equal(false);
    expect(endsShadow("routing", 3, undefined)).to.equal(false);
    expect(endsShadow("fees", 3, { version: 3 })).to.equal(false);
  });
});
