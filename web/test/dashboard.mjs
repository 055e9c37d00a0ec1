// The dashboard in a real browser: headless Chromium driven by
// playwright-core. cmd/fog's TestDashboardInBrowser starts a 3-node devnet
// and runs this script against node 0 with:
//   FOG_URL      http://127.0.0.1:PORT of node 0's API
//   FOG_TOKEN    node 0's API token
//   FOG_PEERS    the other nodes' peer IDs, comma-separated
//   FOG_MODULE   a WASI module that echoes its stdin
//   FOG_SHOTS    the directory the screenshots go to
//   CHROMIUM     the browser's executable
// It exits 0 when every check passed, 1 with the failure on stderr.
import { chromium } from "playwright-core";
import path from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const url = env("FOG_URL"), token = env("FOG_TOKEN"), peers = env("FOG_PEERS").split(","),
  module = env("FOG_MODULE"), shots = env("FOG_SHOTS");
const timeout = 30_000;

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  // Root in a container has no user namespaces for Chromium's sandbox.
  args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
});
try {
  // A wrong token shows nothing of the node.
  {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const errors = [];
    page.on("console", (m) => m.type() === "error" && !m.text().includes("401") && errors.push(m.text()));
    await page.goto(url);
    await page.fill("#token", "0".repeat(64));
    await page.click("button[type=submit]");
    await page.waitForSelector("#login-error", { timeout });
    check((await page.textContent("#login-error")).includes("Wrong token"), "a wrong token says so");
    check((await page.locator("#peer-id, #peers, nav").count()) === 0, "a wrong token shows nothing of the node");
    const status = await page.evaluate(async () =>
      (await fetch("/rpc", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "node.status" }) })).status);
    check(status === 401, `the API refuses the page without a session (HTTP ${status})`);
    check((await ctx.cookies()).length === 0, "no cookie after a failed login");
    await page.screenshot({ path: path.join(shots, "wrong-token.png") });
    check(errors.length === 0, `console errors: ${errors.join("; ")}`);
    await ctx.close();
    console.log("ok: a wrong token shows nothing");
  }

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // The page asks /session first: its 401 before the login is expected.
  page.on("console", (m) => m.type() === "error" && !m.text().includes("401") && errors.push(m.text()));
  await page.goto(url);
  await page.fill("#token", token);
  await page.click("button[type=submit]");

  // Logged in: the overview shows this node and both peers.
  await page.waitForSelector("#peer-id", { timeout });
  const cookies = await ctx.cookies();
  check(cookies.length === 1 && cookies[0].httpOnly && cookies[0].sameSite === "Strict",
    `one HttpOnly SameSite=Strict session cookie: ${JSON.stringify(cookies)}`);
  check(!cookies[0].value.includes(token), "the cookie is not the token");
  check(!page.url().includes(token), "the token is never in the URL");
  for (const p of peers) {
    await page.waitForSelector(`tr.peer[data-peer="${p}"]`, { timeout });
  }
  await page.waitForSelector("#live.on", { timeout });
  console.log("ok: logged in, sees the peers", peers.join(" "));
  await page.screenshot({ path: path.join(shots, "overview.png"), fullPage: true });

  // The directory lists the three nodes' offers.
  await page.click("#nav-directory");
  await page.waitForFunction(() => document.querySelectorAll("tr.offer").length >= 3, null, { timeout });
  await page.screenshot({ path: path.join(shots, "directory.png"), fullPage: true });
  console.log("ok: the directory shows 3 offers");

  // A task submitted from the browser runs, and its output shows.
  await page.click("#nav-tasks");
  await page.setInputFiles("#module", module);
  await page.fill("#args", "one two");
  await page.fill("#stdin", "hello from the browser");
  await page.click("#submit-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#task-state")?.textContent?.startsWith("done"), null, { timeout });
  await page.waitForFunction(() => document.querySelector("#task-stdout")?.textContent === "hello from the browser", null, { timeout });
  check((await page.textContent("#task-result")).includes("exit code 0"), "the task exited 0");
  await page.waitForSelector("tr.task .state.done", { timeout });
  await page.screenshot({ path: path.join(shots, "tasks.png"), fullPage: true });
  console.log("ok: a task submitted from the browser is done with its output");

  // The task's states reached the live event log.
  await page.click("#nav-overview");
  await page.waitForSelector("#events", { timeout });

  await page.click("#nav-relays");
  await page.waitForSelector("#epoch", { timeout });
  await page.screenshot({ path: path.join(shots, "relays.png"), fullPage: true });
  console.log("ok: relays page");

  // The devnet's genesis funds node 0 (the faucet): its wallet shows the
  // balance, and a send to another node is confirmed and in the history.
  await page.click("#nav-wallet");
  await page.waitForFunction(() => /\d cr$/.test(document.querySelector("#wallet-balance")?.textContent ?? ""), null, { timeout })
    .catch(async (e) => { throw new Error(`the wallet shows no balance: ${await page.textContent("#wallet")}: ${e}`); });
  await page.fill("#wallet-to", peers[0]);
  await page.fill("#wallet-amount", "1500000");
  await page.click("#wallet-send button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#wallet-sent")?.textContent?.startsWith("Sent and confirmed"), null, { timeout });
  await page.waitForSelector("#wallet-history tr.block.send", { timeout });
  check((await page.textContent("#wallet-history tr.block.send")).includes("1.5 cr"), "the send is in the history with its amount");
  await page.screenshot({ path: path.join(shots, "wallet.png"), fullPage: true });
  console.log("ok: the wallet shows the balance and sends");

  check(errors.length === 0, `page errors: ${errors.join("; ")}`);
  await ctx.close();
} finally {
  await browser.close();
}
