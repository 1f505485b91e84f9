// Rendezvous hashing of PAY_CMD partitions over the live workers: every partition has exactly one
// owner, a join or a leave moves only the partitions it must, and the split is roughly even.
import { expect } from "chai";
import fc from "fast-check";
import {
  LOAD_SLACK,
  assignment,
  loadCap,
  ownerOf,
  targetOf,
  weight,
} from "../../actors/cluster/core/rendezvous.ts";
import { leaseStands, plan } from "../../actors/cluster/core/plan.ts";

const PARTITIONS = 64;
const memberId = fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/);
const members = (min: number, max: number) => fc.uniqueArray(memberId, { minLength: min, maxLength: max });

describe("rendezvous assignment of partitions", () => {
  it("gives every partition exactly one owner among the members, the same whatever their order", () => {
    fc.assert(
      fc.property(members(1, 8), (ms) => {
        const a = assignment(PARTITIONS, ms);
        const b = assignment(PARTITIONS, [...ms].reverse());
        expect(a.size).to.equal(PARTITIONS);
        for (let p = 0; p < PARTITIONS; p++) {
          expect(ms).to.include(a.get(p));
          expect(b.get(p)).to.equal(a.get(p));
        }
        const targets = ms.map((m) => targetOf(m, PARTITIONS, ms));
        expect(targets.flat().sort((x, y) => x - y)).to.deep.equal([...Array(PARTITIONS).keys()]);
      }),
    );
  });

  it("pure rendezvous moves only the joiner's partitions when a member joins, and only the leaver's when one leaves", () => {
    fc.assert(
      fc.property(members(2, 8), (all) => {
        const joiner = all[all.length - 1]!;
        const before = assignment(PARTITIONS, all.slice(0, -1), Infinity);
        const after = assignment(PARTITIONS, all, Infinity);
        for (let p = 0; p < PARTITIONS; p++) {
          // A partition changes owner only to the joiner; leaving is the same picture read backwards.
          if (after.get(p) !== before.get(p)) expect(after.get(p)).to.equal(joiner);
          expect(after.get(p)).to.equal(ownerOf(p, all));
        }
      }),
    );
  });

  it("with bounded loads, a join or leave moves little beyond what it must (under one of 64 on average)", () => {
    let extra = 0;
    let runs = 0;
    fc.assert(
      fc.property(members(2, 7), (all) => {
        const joiner = all[all.length - 1]!;
        const before = assignment(PARTITIONS, all.slice(0, -1));
        const after = assignment(PARTITIONS, all);
        let moved = 0;
        for (let p = 0; p < PARTITIONS; p++)
          if (after.get(p) !== before.get(p) && after.get(p) !== joiner) moved++;
        // Moves between the members who stayed: a few, never a reshuffle.
        expect(moved, "partitions moved between members who stayed").to.be.at.most(PARTITIONS / 8);
        extra += moved;
        runs++;
      }),
      { numRuns: 300, seed: 19 },
    );
    expect(extra / runs, "mean extra moves per join").to.be.below(1);
  });

  it("caps every member at 1.25x its share (or the share rounded up), so 4 over 2 never splits 4-0 nor 8 over 3 4-4-0", () => {
    fc.assert(
      fc.property(members(1, 6), fc.integer({ min: 1, max: 128 }), (ms, partitions) => {
        const share = partitions / ms.length;
        const cap = Math.max(Math.ceil(share), Math.floor(share * (1 + LOAD_SLACK) + 1e-9));
        expect(loadCap(partitions, ms.length)).to.equal(cap);
        const counts = ms.map((m) => targetOf(m, partitions, ms).length);
        for (const c of counts) expect(c).to.be.at.most(cap);
        expect(counts.reduce((a, b) => a + b, 0)).to.equal(partitions);
        // Whoever is short gets what the others cannot take.
        expect(Math.min(...counts)).to.be.at.least(Math.max(0, partitions - (ms.length - 1) * cap));
        if (partitions === 4 && ms.length === 2) expect(Math.min(...counts)).to.be.at.least(1);
      }),
    );
  });

  it("never leaves one of 3 workers without a partition of 8 (as worker ids are made: host-pid-random)", () => {
    // With the cap rounded up (4), about one split in sixteen was 4-4-0.
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 4_000_000 }), fc.stringMatching(/^[0-9a-f]{6}$/)), {
          minLength: 3,
          maxLength: 3,
          selector: ([pid, r]) => `${pid}-${r}`,
        }),
        (ids) => {
          const ms = ids.map(([pid, r]) => `host-${pid}-${r}`);
          const counts = ms.map((m) => targetOf(m, 8, ms).length).sort((a, b) => a - b);
          expect(counts, "partitions per worker").to.deep.equal([2, 3, 3]);
        },
      ),
      { numRuns: 500 },
    );
    expect(loadCap(8, 3)).to.equal(3);
    expect(loadCap(64, 3)).to.equal(26);
    expect(loadCap(5, 1)).to.equal(6);
    expect(loadCap(8, 3, Infinity)).to.equal(Infinity);
  });

  // Rendezvous splits like an independent fair draw per partition: a worker's count is binomial
  // (64, 1/n). That is the bound to hold it to: the mean and spread of a fair draw, never a worker
  // left with nothing, none far past its share.
  it("pure rendezvous splits 64 partitions over 1 to 5 workers like a fair draw: none empty, none far past its share", () => {
    for (let n = 1; n <= 5; n++) {
      const share = 1 / n;
      const mean = PARTITIONS * share;
      const sd = Math.sqrt(PARTITIONS * share * (1 - share));
      let sum = 0;
      let sumSq = 0;
      let count = 0;
      fc.assert(
        fc.property(
          // Worker ids as actors/role.ts makes them: host-pid-random.
          fc.uniqueArray(
            fc.tuple(fc.integer({ min: 1, max: 4_000_000 }), fc.stringMatching(/^[0-9a-f]{6}$/)),
            { minLength: n, maxLength: n, selector: ([pid, r]) => `${pid}-${r}` },
          ),
          (ids) => {
            const ms = ids.map(([pid, r]) => `host-${pid}-${r}`);
            for (const m of ms) {
              const c = targetOf(m, PARTITIONS, ms, Infinity).length;
              expect(c, `partitions of one of ${n} workers`).to.be.within(1, mean + 5 * sd);
              sum += c;
              sumSq += c * c;
              count++;
            }
          },
        ),
        { numRuns: 400, seed: 19 },
      );
      const m = sum / count;
      const variance = sumSq / count - m * m;
      expect(m).to.be.closeTo(mean, 1e-9);
      // As spread as a fair draw, not more (a poor hash would clump: a larger variance).
      expect(variance, `variance of a worker's count with ${n} workers`).to.be.at.most(sd * sd * 1.3 + 0.01);
    }
  });

  it("has no owner with no members, and is stable across calls", () => {
    expect(ownerOf(3, [])).to.equal(undefined);
    expect(assignment(PARTITIONS, []).size).to.equal(0);
    expect(weight("w1", 7)).to.equal(weight("w1", 7));
    expect(weight("w1", 7)).not.to.equal(weight("w1", 8));
    expect(targetOf("solo", 4, [])).to.deep.equal([0, 1, 2, 3]);
  });
});

describe("the ownership round's plan", () => {
  it("releases what is held and not ours, acquires what is ours and not held", () => {
    expect(plan([1, 2, 3], [3, 4])).to.deep.equal({ release: [1, 2], acquire: [4] });
    expect(plan([], [])).to.deep.equal({ release: [], acquire: [] });
  });

  it("lets a lease stand only while less than the TTL has passed since it was renewed", () => {
    expect(leaseStands(1_000, 10_999, 10_000)).to.equal(true);
    expect(leaseStands(1_000, 11_000, 10_000)).to.equal(false);
  });
});
