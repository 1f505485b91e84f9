// A newcomer's first minutes: the banner `npm start` prints ends with a curl that, pasted into a
// shell as printed, creates a payment on the running platform; and every curl example of the README
// and docs/*.md calls an operation the gateway has, with the headers and body it requires.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { expect } from "chai";
import { startBanner } from "../../scripts/run.ts";
import { curlExamples, problemsOf, type OpenApi } from "../support/doc-curls.ts";
import { startTestPlatform, type TestPlatform } from "../support/platform.ts";
import { requireCommand } from "../support/tools.ts";

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
    requireCommand("curl");
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

  describe("the curl examples of the README and docs/*.md", () => {
    let spec: OpenApi;
    before(async () => {
      spec = (await (await fetch(`${p.url}/openapi.json`)).json()) as OpenApi;
    });

    it("each calls an operation of the gateway with the headers and body it requires", () => {
      const files = [
        "README.md",
        ...readdirSync("docs")
          .filter((f) => f.endsWith(".md"))
          .map((f) => `docs/${f}`),
      ];
      const examples = files.flatMap((f) => curlExamples(f, readFileSync(f, "utf8")));
      expect(examples.length).to.be.greaterThan(50);
      expect(examples.filter((e) => e.method === "POST").length).to.be.greaterThan(20);
      const problems = examples.flatMap((e) => problemsOf(spec, e).map((m) => `${e.file}:${e.line}: ${m}`));
      expect(problems).to.deep.equal([]);
    });

    it("would catch a POST example without the Idempotency-Key its route requires", () => {
      const markdown = [
        "```sh",
        'KEY="Authorization: Bearer <merchant key>"',
        'curl -s -X POST -H "$KEY" localhost:8080/v1/events/<evt_…>/redeliver      # 202',
        "curl -s -X POST -H \"$KEY\" -H 'Idempotency-Key: r-1' \\",
        "  localhost:8080/v1/events/<evt_…>/redeliver",
        'curl -s -X POST localhost:8080/ops/psps/acme/out -H "$KEY" -d \'{"reason":"x"}\'',
        "```",
      ].join("\n");
      const [bare, keyed, noType, ...rest] = curlExamples("example.md", markdown);
      expect(rest).to.deep.equal([]);
      expect(problemsOf(spec, bare!)).to.deep.equal([
        "POST /v1/events/{id}/redeliver needs the idempotency-key header",
      ]);
      expect(problemsOf(spec, keyed!)).to.deep.equal([]);
      expect(problemsOf(spec, noType!)).to.deep.equal([
        "POST /ops/psps/{psp}/out: a body without its Content-Type header",
      ]);
    });
  });
});
