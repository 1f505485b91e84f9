// What a follower sets aside and what it retries (streams/db/set-aside.ts): a frame the database
// refuses for its data can never be applied; a database away, a bad deploy or a rollback can be.
import { expect } from "chai";
import { isPoison, poisonCode, PoisonFrameError, sqlState } from "../../streams/db/set-aside.ts";

/** An error as postgres.js raises it: the SQLSTATE in `code`. */
const pg = (code: string, message = "refused") => Object.assign(new Error(message), { code });

describe("set aside or retry: the follower's classification of a failure", () => {
  it("sets aside what PostgreSQL refuses for the data: NUL, lone surrogate, untranslatable, too large", () => {
    for (const code of ["22021", "22P02", "22P05", "22003", "23505", "54000"])
      expect(isPoison(pg(code)), code).to.equal(true);
    expect(poisonCode(pg("22021", 'invalid byte sequence for encoding "UTF8": 0x00'))).to.equal("22021");
  });

  it("sets aside a record nobody can decode", () => {
    const err = new PoisonFrameError("undecodable", "message 7 is not JSON");
    expect(isPoison(err)).to.equal(true);
    expect(poisonCode(err)).to.equal("undecodable");
  });

  it("retries a database away, a rollback, a bad deploy, and any error that is not the frame's", () => {
    for (const code of ["08006", "57P01", "53300", "40001", "40P01", "42703", "XX000"])
      expect(isPoison(pg(code)), code).to.equal(false);
    for (const code of ["ECONNREFUSED", "CONNECTION_CLOSED", "CONNECT_TIMEOUT", "CONNECTION_ENDED"])
      expect(isPoison(pg(code)), code).to.equal(false);
    expect(isPoison(new TypeError("x is undefined"))).to.equal(false);
    expect(isPoison(undefined)).to.equal(false);
    expect(sqlState(pg("ECONNREFUSED"))).to.equal(undefined);
  });
});
