// freePort (scripts/free-port.ts) on the real kernel: a port is checked free by binding it, then let
// go until its server binds it, so the function itself must never hand the same port out twice —
// the three-node cluster asks for its nine ports at once, and a node that got another's port died at
// start-up ("address already in use").
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { freePort } from "../../scripts/free-port.ts";

describe("freePort", () => {
  it("never hands out the same port twice, even to calls made at once", async () => {
    // 300 draws from the ~12,000 ports below the ephemeral range, one after the other (each port
    // let go before the next draw): by chance alone a repeat is all but certain (the birthday
    // bound puts it near 97 %). Then 100 at once.
    const ports: number[] = [];
    for (let i = 0; i < 300; i++) ports.push(await freePort());
    ports.push(...(await Promise.all(Array.from({ length: 100 }, () => freePort()))));
    expect(new Set(ports).size).to.equal(ports.length);
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    for (const p of ports) expect(p).to.be.below(low!);
  });
});
