// HTTP/1.1 over a bare TCP socket, for requests fetch refuses to send: repeated headers, bytes
// Node's parser rejects, a body shorter than its Content-Length. Reads until the server closes
// the connection (every request sent here says Connection: close) or the deadline passes.
import { connect } from "node:net";

export type RawResponse = {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** From the first byte sent to the connection's close. */
  elapsedMs: number;
};

/** Sends `head` (request line and headers, without the blank line) and `body`, as given. */
export function rawRequest(
  url: string,
  head: string,
  body: string | Buffer = "",
  opts: { deadlineMs?: number } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const deadlineMs = opts.deadlineMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${deadlineMs} ms`));
    }, deadlineMs);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => undefined); // a reset after the answer is read is fine
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      if (split === -1) {
        reject(new Error(`connection closed without an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const [statusLine = "", ...lines] = text.slice(0, split).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(":");
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({
        status: Number(statusLine.split(" ")[1]),
        headers,
        body: text.slice(split + 4),
        elapsedMs: Date.now() - started,
      });
    });
    socket.on("connect", () => {
      socket.write(`${head}\r\nConnection: close\r\n\r\n`);
      if (body.length > 0) socket.write(body);
    });
  });
}
