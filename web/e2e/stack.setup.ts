/**
 * Starts `make run`'s stack (localdev.run) on free loopback ports with a shifted clock: a trading
 * morning (AT, default Tue 01 Dec 2026 09:19:00 IST), so the entry fires whatever the real date
 * and hour. Everything is stopped, and its state removed, when the tests end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..", "..");
export const STACK_FILE = join(tmpdir(), "optexec-e2e-stack.json");

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

async function waitForHealth(url: string, child: ChildProcess, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the stack exited with ${child.exitCode}`);
    try {
      const answer = await fetch(url);
      if (answer.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((wait) => setTimeout(wait, 500));
  }
  throw new Error(`the stack did not answer on ${url} within ${seconds}s`);
}

export default async function setup(): Promise<() => Promise<void>> {
  if (process.env.E2E_WEB) { // a stack already running (`make run ... AT=...`), for debugging
    writeFileSync(STACK_FILE, JSON.stringify({ web: process.env.E2E_WEB }));
    return async () => rmSync(STACK_FILE, { force: true });
  }
  const [emulator, api, web] = [await freePort(), await freePort(), await freePort()];
  const state = mkdtempSync(join(tmpdir(), "optexec-e2e-"));
  const at = process.env.AT ?? "2026-12-01T09:19:00+05:30";
  const python = process.env.PYTHON ?? join(ROOT, ".venv", "bin", "python");
  const started = Date.now();
  const child = spawn(python, ["-m", "localdev.run", "--emulator-port", String(emulator),
    "--api-port", String(api), "--web-port", String(web), "--at", at, "--state-root", state], {
    cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true,
    env: { ...process.env, AWS_ENDPOINT_URL: "" },
  });
  const log: string[] = [];
  // Kept for a failed run: `make web-test` prints its tail (.run/ is not committed).
  mkdirSync(join(ROOT, ".run"), { recursive: true });
  const keep = (chunk: Buffer) => {
    log.push(chunk.toString());
    appendFileSync(join(ROOT, ".run", "e2e-stack.log"), chunk);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  try {
    await waitForHealth(`http://127.0.0.1:${web}/api/health`, child, 300);
  } catch (error) {
    console.log(log.join("").slice(-4000));
    child.kill("SIGINT");
    throw error;
  }
  console.log(`e2e: stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
    `(web ${web}, API ${api}, emulator ${emulator}, clock from ${at})`);
  writeFileSync(STACK_FILE, JSON.stringify({ web: `http://127.0.0.1:${web}`, api }));
  return async () => {
    const exited = new Promise((done) => child.once("exit", done));
    if (child.pid) process.kill(-child.pid, "SIGINT");
    await Promise.race([exited, new Promise((wait) => setTimeout(wait, 20_000))]);
    if (child.exitCode === null && child.pid) process.kill(-child.pid, "SIGKILL");
    rmSync(state, { recursive: true, force: true });
    rmSync(STACK_FILE, { force: true });
  };
}
