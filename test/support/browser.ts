// Debian's chromium (apt-get install chromium), headless, driven by playwright-core: no browser
// download, and nothing on the network but the platform under test.
import { chromium, type Browser } from "playwright-core";
import { requireExecutable } from "./tools.ts";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  // Said plainly before playwright's own "executable doesn't exist": which, and how to install it.
  requireExecutable("chromium", CHROMIUM_PATH);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
