// The console end to end: a real server, Debian's Chromium, the pages a user walks
// through, the security properties the browser must keep, accessibility (axe-core) and
// the freshness of the API types the console is compiled against.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import openapiTS, { astToString } from 'openapi-typescript';
import { adminPassword, newPage, screenshot, signIn, startBrowser, startServer } from './harness.mjs';

const require = createRequire(import.meta.url);
let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// Runs axe-core on the page as it is now (in a context that lets the script in).
async function axe(page) {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

test('sign in, create a workspace, make and revoke an API token, in both languages', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.base}/workspaces`);
  // Not signed in: the login page, which returns to the page asked for.
  await page.getByRole('heading', { name: 'Sign in to Jizhan' }).waitFor();
  assert.match(page.url(), /\/login\?next=%2Fworkspaces$/);
  await screenshot(page, 'login-en');
  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill('wrong-password-123');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByRole('alert').textContent(), 'Wrong user name or password.');
  await page.getByLabel('Password').fill(adminPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/workspaces');

  // A name the API would refuse is flagged while typing; a good one is created.
  const name = page.getByLabel('Name', { exact: true });
  await name.fill('Bad Name');
  await page.getByText(/Use lower-case letters/).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Create' }).isDisabled(), true);
  await name.fill('vision-team');
  await page.getByLabel('Description').fill('Detection models');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('cell', { name: 'vision-team' }).waitFor();
  const listed = await server.call('GET', '/api/v1/workspaces');
  assert.deepEqual(listed.items.map((w) => w.name), ['vision-team']);
  await screenshot(page, 'workspaces-en');

  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await page.getByText(/not a member of any project yet/).waitFor();
  await screenshot(page, 'overview-en');

  await page.getByRole('link', { name: 'API tokens' }).click();
  await page.getByLabel('Name', { exact: true }).fill('ci-script');
  await page.getByRole('button', { name: 'Create' }).click();
  const secret = await page.getByTestId('new-token').textContent();
  assert.match(secret, /^jzt_/);
  // The new token works for scripts.
  const who = await fetch(`${server.base}/api/v1/auth/whoami`, { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal((await who.json()).username, 'admin');
  await page.getByRole('cell', { name: 'ci-script' }).waitFor();
  await screenshot(page, 'tokens-en');
  page.once('dialog', (d) => d.accept());
  await page.getByRole('row', { name: /ci-script/ }).getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('cell', { name: 'ci-script' }).waitFor({ state: 'detached' });
  const revoked = await fetch(`${server.base}/api/v1/auth/whoami`, { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(revoked.status, 401);

  // Chinese: the same pages, every heading translated; the choice survives a reload.
  await page.getByLabel('Language').selectOption('zh-CN');
  await page.getByRole('heading', { name: 'API 令牌' }).waitFor();
  await screenshot(page, 'tokens-zh-CN');
  await page.reload();
  await page.getByRole('heading', { name: 'API 令牌' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  for (const [link, heading, shot] of [
    ['工作空间', '工作空间', 'workspaces-zh-CN'],
    ['概览', '概览', 'overview-zh-CN'],
  ]) {
    await page.getByRole('link', { name: link, exact: true }).click();
    await page.getByRole('heading', { name: heading, exact: true }).waitFor();
    await screenshot(page, shot);
  }
  await page.getByRole('button', { name: '退出登录' }).click();
  await page.getByRole('heading', { name: '登录 Jizhan' }).waitFor();
  await screenshot(page, 'login-zh-CN');
  await page.goto(`${server.base}/tokens`);
  await page.getByRole('heading', { name: '登录 Jizhan' }).waitFor();
  assert.deepEqual(page.problems, []);
});

test('the page runs no inline script and sends the CSRF token; another site cannot post', async () => {
  const res = await fetch(`${server.base}/`);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.doesNotMatch(await res.text(), /<script>(?!<\/script>)|<script [^>]*>[^<]/, 'no inline script in index.html');

  const page = await newPage(browser);
  await signIn(page, server.base, 'admin', adminPassword);
  // An injected inline script is blocked by the policy.
  const blocked = await page.evaluate(
    () =>
      new Promise((resolve) => {
        document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true });
        const s = document.createElement('script');
        s.textContent = 'window.__injected = true';
        document.body.appendChild(s);
        setTimeout(() => resolve(window.__injected ? 'ran' : 'no event'), 2000);
      }),
  );
  assert.match(blocked, /script-src/);

  // From the console's own origin, a change without the CSRF token is refused.
  const status = await page.evaluate(async () => {
    const r = await fetch('/api/v1/workspaces', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'no-csrf' }),
    });
    return r.status;
  });
  assert.equal(status, 403);

  // Another site's form posts to the API while the user is signed in: refused, nothing made.
  const evil = createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(`<form id="f" method="POST" action="${server.base}/api/v1/tokens" enctype="text/plain">
      <input name='{"name":"stolen","x":"' value='"}'></form><script>document.getElementById('f').submit()</script>`);
  });
  await new Promise((r) => evil.listen(0, '127.0.0.2', r));
  const answer = page.waitForResponse((r) => r.url() === `${server.base}/api/v1/tokens`);
  await page.goto(`http://127.0.0.2:${evil.address().port}/`);
  const refused = await answer;
  assert.ok([401, 403].includes(refused.status()), `cross-site post answered ${refused.status()}`);
  evil.close();
  const tokens = await server.call('GET', '/api/v1/tokens');
  assert.equal(tokens.items.filter((t) => t.name === 'stolen').length, 0);
});

test('no serious or critical accessibility violation on any page (axe-core)', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${server.base}/login`);
  await page.getByRole('heading').first().waitFor();
  const found = { login: await axe(page) };
  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill(adminPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  for (const path of ['/', '/workspaces', '/tokens', '/later/monitoring', '/no-such-page']) {
    await page.goto(server.base + path);
    await page.getByRole('heading').first().waitFor();
    found[path] = await axe(page);
  }
  for (const [where, violations] of Object.entries(found)) {
    assert.deepEqual(violations, [], `${where}: ${JSON.stringify(violations)}`);
  }
  await context.close();
});

test('the API types the console is compiled against match the server (npm run types)', async () => {
  const doc = await server.call('GET', '/api/v1/openapi.json');
  const fresh = astToString(await openapiTS(doc));
  const committed = readFileSync(new URL('../src/api/schema.d.ts', import.meta.url), 'utf8');
  const body = (s) => s.replace(/^\/\/.*\n/, '').trim();
  assert.equal(
    body(committed),
    body(fresh),
    'src/api/schema.d.ts is stale: npm run types -- SERVER_URL TOKEN (web/README.md)',
  );
});
