// The e2e tests' world: a real `jizhan server` on a free loopback port with a fresh data
// folder and the built console, and Debian's Chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const adminPassword = 'e2e-admin-password-0123';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// `extra`: more `jizhan server` arguments (the benchmark relaxes durability with them).
export async function startServer(extra = []) {
  const bin = process.env.JIZHAN_BIN;
  const consoleDir = process.env.JZ_CONSOLE_OUT;
  if (!bin || !consoleDir) throw new Error('set JIZHAN_BIN and JZ_CONSOLE_OUT (ctest does)');
  const dataDir = mkdtempSync(join(tmpdir(), 'jz-console-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // The server refuses JIZHAN_* variables that are not config keys: keep ours out.
  const env = { ...process.env, JIZHAN_ADMIN_PASSWORD: adminPassword };
  delete env.JIZHAN_BIN;
  const proc = spawn(
    bin,
    // Two virtual GPUs: jobs hold them and the scheduling view shows it.
    ['server', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--set', `server.console_dir=${consoleDir}`,
      '--set', 'exec.virtual_gpus=2', ...extra],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  proc.stderr.on('data', (d) => (log += d));
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null) throw new Error(`jizhan server exited: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const login = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: adminPassword }),
  });
  const { token } = await login.json();
  const call = async (method, path, body) => {
    const r = await fetch(base + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return {
    base,
    dataDir,
    token,
    call,
    log: () => log,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function startBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // Chromium's own sandbox needs privileges CI containers lack; the page is ours.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

// A page that fails the test on a script error or a CSP violation.
export async function newPage(browser, { language = 'en' } = {}) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: language });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(String(e)));
  page.on('console', (m) => {
    const text = m.text();
    // The session probe answers 401 before signing in: expected, not a problem.
    if (m.type() === 'error' && !text.includes('401')) page.problems.push(text);
  });
  return page;
}

export async function screenshot(page, name) {
  const dir = process.env.JZ_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

export async function signIn(page, base, username, password) {
  await page.goto(`${base}/login`);
  await page.getByLabel(/User name|用户名/).fill(username);
  await page.getByLabel(/Password|密码/).fill(password);
  await page.getByRole('button', { name: /Sign in|登录/ }).click();
  await page.getByRole('navigation', { name: /Main|主导航/ }).waitFor();
}

// Waits until `predicate(arg)`, run in the page, is true. Playwright's waitForFunction
// polls by evaluating a string in the page, which the console's CSP refuses (no eval):
// this polls from here with evaluate instead.
export async function until(page, predicate, arg, timeout = 30000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(predicate, arg)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${predicate}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
