// A newcomer's first minutes: the banner `npm start` prints ends with a curl that, pasted into a
// shell as printed, creates a payment on the running platform.
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { startBanner } from "../../scripts/run.ts";
import { startTestPlatform, type TestPlatform } from "../support/platform.ts";

function curlOnPath(): boolean {
  try {
    execFileSync("curl", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("npm start's banner (e2e)", function () {
  let p: TestPlatform;

  before(async () => {
    p = await startTestPlatform();
  });
  after(async () => {
    await p?.cleanup();
  });

  it("shows the URL and the demo key, and a curl that creates a payment when pasted as printed", async function () {
    const key = p.merchants[0]!.key;
    const banner = startBanner({ url: p.url, demoKey: key });
    expect(banner).to.include(p.url).and.include(key);
    // The command as printed: from "curl" to the line without a trailing backslash.
    const lines = banner.split("\n").map((l) => l.trim());
    const start = lines.findIndex((l) => l.startsWith("curl "));
    const end = lines.findIndex((l, i) => i >= start && !l.endsWith("\\"));
    const command = lines.slice(start, end + 1).join("\n");
    expect(command).to.match(/^curl -s -X POST .*\/v1\/payments/);
    if (!curlOnPath()) this.skip();
    // Asynchronously: the platform answering it runs in this process.
    const { stdout: out } = await promisify(execFile)("bash", ["-c", `${command} -w '\\n%{http_code}'`], {
      encoding: "utf8",
    });
    const [body, status] = [out.slice(0, out.lastIndexOf("\n")), out.slice(out.lastIndexOf("\n") + 1)];
    expect(status, body).to.equal("201");
    const payment = JSON.parse(body) as { status: string; amount: number; card: { last4: string } };
    expect(payment).to.deep.include({ status: "captured", amount: 4990 });
  });

  it("says where the key went when it is not new, and shows the curl with $KEY", () => {
    const banner = startBanner({ url: p.url, demoKeyFile: ".data/demo-merchant.json" });
    expect(banner).to.include(".data/demo-merchant.json").and.include('Bearer $KEY"');
  });
});
