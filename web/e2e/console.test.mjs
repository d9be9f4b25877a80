// The console end to end: a real server, Debian's Chromium, the pages a user walks
// through, the security properties the browser must keep, accessibility (axe-core) and
// the freshness of the API types the console is compiled against.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer } from 'node:http';
import { deflateSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import openapiTS, { astToString } from 'openapi-typescript';
import { adminPassword, newPage, screenshot, signIn, startBrowser, startServer, until } from './harness.mjs';

const require = createRequire(import.meta.url);
let server;
let browser;
let autotestRoot; // the files the automatic tests test makes, for the competition test

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

  // The workspace's page: a project, a member; then the project's members, quota, events.
  await server.call('POST', '/api/v1/users', { username: 'dana', password: 'dana-password-123' });
  await page.getByRole('link', { name: 'Workspaces' }).click();
  await page.getByRole('link', { name: 'vision-team' }).click();
  await page.getByRole('heading', { name: 'Workspace vision-team' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('detector');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('link', { name: 'detector' }).waitFor();
  await page.locator('#workspace-member-name').fill('dana');
  await page.locator('#workspace-member-role').selectOption('workspace-regular');
  await page.getByRole('button', { name: 'Add a member' }).click();
  await page.getByRole('cell', { name: 'dana' }).waitFor();
  // The workspace's events: it was made, got a project and a member.
  await page.reload();
  const wsEvents = page.getByRole('table', { name: 'Events' });
  for (const reason of ['WorkspaceCreated', 'ProjectCreated', 'MemberAdded']) {
    await wsEvents.getByText(reason).waitFor();
  }
  await screenshot(page, 'workspace-en');
  await page.getByRole('link', { name: 'detector' }).click();
  await page.getByRole('link', { name: 'Members' }).click();
  await page.locator('#project-member-name').fill('dana');
  await page.locator('#project-member-role').selectOption('project-developer');
  await page.getByRole('button', { name: 'Add a member' }).click();
  await page.getByLabel('Role of dana').waitFor();
  assert.equal(await page.getByLabel('Role of dana').inputValue(), 'project-developer');
  const changed = page.waitForResponse(
    (r) => r.url().endsWith('/api/v1/projects/detector/members') && r.request().method() === 'POST',
  );
  await page.getByLabel('Role of dana').selectOption('project-viewer');
  assert.equal((await changed).status(), 201);
  const members = await server.call('GET', '/api/v1/projects/detector/members');
  assert.deepEqual(members.items.find((m) => m.username === 'dana'), { username: 'dana', role: 'project-viewer' });
  await screenshot(page, 'project-members-en');
  await page.getByRole('link', { name: 'Quota' }).click();
  await page.getByLabel('GPUs', { exact: true }).fill('4');
  await page.getByLabel('GPUs per user').fill('2');
  await page.getByRole('button', { name: 'Save limits' }).click();
  await page.getByText('Saved.').waitFor();
  const quota = await server.call('GET', '/api/v1/projects/detector/quota');
  assert.equal(quota.gpus, 4);
  assert.equal(quota.per_user_gpus, 2);
  await screenshot(page, 'project-quota-en');
  await page.getByRole('link', { name: 'Events' }).click();
  await page.getByRole('cell', { name: /dana/ }).first().waitFor();
  await screenshot(page, 'project-events-en');
  // Live: a change made elsewhere appears on top without reloading.
  await page.getByText('Updated live').waitFor();
  await server.call('PUT', '/api/v1/projects/detector/quota', { gpus: 5, per_user_gpus: 2 });
  await page.getByRole('row').nth(1).getByText(/"gpus":5/).waitFor();

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

test('a member submits a job from the form, follows its log, filters the list and cancels another', async () => {
  await server.call('POST', '/api/v1/workspaces', { name: 'acme' });
  await server.call('POST', '/api/v1/workspaces/acme/projects', { name: 'vision' });
  await server.call('POST', '/api/v1/users', { username: 'dev1', password: 'dev1-password-123' });
  await server.call('POST', '/api/v1/projects/vision/members', { username: 'dev1', role: 'project-developer' });
  const page = await newPage(browser);
  await signIn(page, server.base, 'dev1', 'dev1-password-123');
  await page.getByRole('link', { name: 'vision' }).click();
  await page.getByRole('heading', { name: 'Project vision' }).waitFor();
  await page.getByText('No jobs match').waitFor();
  await page.getByRole('link', { name: 'Submit a job' }).click();

  // The form says what is wrong before sending anything.
  await page.getByLabel('Name', { exact: true }).fill('hello');
  await page.getByLabel('Command').fill('echo hello from the console; sleep 1; echo epoch 1 done');
  await page.getByLabel('Environment').fill('not a pair');
  await page.getByText('Line 1 is not NAME=value.').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Submit', exact: true }).isDisabled(), true);
  await page.getByLabel('Environment').fill('EPOCHS=1');
  await page.getByLabel('Memory (MiB)').fill('256');
  await screenshot(page, 'submit-job-en');
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  await page.getByRole('heading', { name: 'Job hello' }).waitFor();
  // The log follows live, then the job ends.
  await page.locator('pre.log', { hasText: 'epoch 1 done' }).waitFor({ timeout: 60000 });
  await page.locator('.badge', { hasText: 'Succeeded' }).first().waitFor({ timeout: 60000 });
  assert.match(await page.locator('pre.log').textContent(), /hello from the console/);
  await screenshot(page, 'job-detail-en');
  // Jump by time: from the second line's time on (the browser's local time, to the second).
  const jobId = page.url().split('/').pop();
  const records = await server.call('GET', `/api/v1/projects/vision/jobs/${jobId}/logs?format=json`);
  const local = (iso) => {
    const d = new Date(iso);
    const p2 = (n) => String(n).padStart(2, '0');
    // A datetime-local input writes no seconds when they are 0 (and Playwright checks that
    // the value reads back as filled): 01:09, not 01:09:00.
    const seconds = d.getSeconds() ? `:${p2(d.getSeconds())}` : '';
    return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}${seconds}`;
  };
  const secondLine = records.items[1];
  await page.getByLabel('Jump to time').fill(local(secondLine.time));
  await page.getByRole('button', { name: 'Go', exact: true }).click();
  await page.getByText(/^Lines from /).waitFor();
  const jumped = await page.locator('pre.log').textContent();
  assert.match(jumped, /epoch 1 done/);
  assert.doesNotMatch(jumped, /hello from the console/, 'the lines before that time');
  await page.getByLabel('Jump to time').fill(local(new Date(Date.parse(secondLine.time) + 3600e3).toISOString()));
  await page.getByRole('button', { name: 'Go', exact: true }).click();
  await page.getByText('No lines at or after that time.').waitFor();
  await page.getByRole('button', { name: 'Back to the end' }).click();
  await page.locator('pre.log', { hasText: 'hello from the console' }).waitFor();

  // A second job, cancelled from its page.
  await page.goto(`${server.base}/projects/vision/jobs/new`);
  await page.getByLabel('Name', { exact: true }).fill('sleeper');
  await page.getByLabel('Command').fill('sleep 300');
  await page.getByLabel('Memory (MiB)').fill('64');
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  await page.getByRole('heading', { name: 'Job sleeper' }).waitFor();
  await page.locator('.badge', { hasText: 'Running' }).first().waitFor({ timeout: 60000 });
  // The quota page shows what the running job holds; a developer may not change limits.
  await page.goto(`${server.base}/projects/vision/quota`);
  await page.getByRole('row', { name: /Jobs at once/ }).getByText('1 used').waitFor({ timeout: 30000 });
  await page.getByRole('row', { name: /Memory/ }).getByText('64 used').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Save limits' }).count(), 0);
  await page.goBack();
  await page.getByRole('heading', { name: 'Job sleeper' }).waitFor();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('.badge', { hasText: 'Cancelled' }).first().waitFor({ timeout: 60000 });

  // The list: both jobs; a filter is part of the address and Back undoes it.
  await page.getByRole('link', { name: 'Project vision' }).click();
  await page.getByRole('link', { name: 'hello' }).waitFor();
  await page.getByRole('link', { name: 'sleeper' }).waitFor();
  await page.getByLabel('State').selectOption('succeeded');
  await page.getByRole('link', { name: 'sleeper' }).waitFor({ state: 'detached' });
  assert.match(page.url(), /\?state=succeeded$/);
  await screenshot(page, 'jobs-en');
  await page.goBack();
  await page.getByRole('link', { name: 'sleeper' }).waitFor();
  // Live without reloading (the project's event stream): a job submitted elsewhere appears
  // on top, and its row follows it to the end.
  await page.getByText('Updated live').waitFor();
  await server.call('POST', '/api/v1/projects/vision/jobs', {
    name: 'arrives-live',
    command: ['true'],
    resources: { cpu: 0.1, memory_mib: 64 },
  });
  const liveRow = page.getByRole('row', { name: /arrives-live/ });
  await liveRow.waitFor({ timeout: 30000 });
  await liveRow.getByText('Succeeded').waitFor({ timeout: 60000 });
  assert.equal(await page.locator('.virtual-list tbody tr:not(.spacer)').first().textContent().then((t) => t.includes('arrives-live')), true);
  assert.deepEqual(page.problems, []);

  // Someone of another workspace is told the project does not exist (the API's 404).
  await server.call('POST', '/api/v1/workspaces', { name: 'other' });
  await server.call('POST', '/api/v1/workspaces/other/projects', { name: 'theirs' });
  await server.call('POST', '/api/v1/users', { username: 'outsider', password: 'outsider-password-1' });
  await server.call('POST', '/api/v1/projects/theirs/members', { username: 'outsider', role: 'project-admin' });
  const other = await newPage(browser);
  await signIn(other, server.base, 'outsider', 'outsider-password-1');
  const answer = other.waitForResponse((r) => r.url().includes('/api/v1/projects/vision/jobs'));
  await other.goto(`${server.base}/projects/vision`);
  assert.equal((await answer).status(), 404);
  await other.getByText('This does not exist, or you may not see it.').waitFor();
  await other.goto(`${server.base}/projects/vision/jobs/new`);
  await other.getByRole('heading', { name: 'Submit a job to vision' }).waitFor();
  assert.equal(await other.getByRole('button', { name: 'Submit', exact: true }).isDisabled(), true);
});

// Waits (in Node, not the page) until `check` is true.
async function eventually(check, timeout = 30000) {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${check}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('an admin registers a Kubernetes cluster, a project limited to it runs there and the scheduling view shows it', async () => {
  // A cluster: the Kubernetes API test server with one GPU node.
  const dir = mkdtempSync(join(tmpdir(), 'jz-kubesim-'));
  const sim = spawn(
    join(dirname(process.env.JIZHAN_BIN), 'jizhan-kubesim'),
    ['--listen', '127.0.0.1:0', '--port-file', join(dir, 'port'), '--token', 'console=console-token',
      '--node', 'k8s-gpu-1:8:16384:2:A100'],
    { stdio: 'ignore' },
  );
  try {
    await eventually(() => existsSync(join(dir, 'port')) && readFileSync(join(dir, 'port'), 'utf8').trim() !== '');
    const port = readFileSync(join(dir, 'port'), 'utf8').trim();
    const kubeconfig = [
      'apiVersion: v1', 'kind: Config', 'current-context: sim', 'clusters:', '- name: sim', '  cluster:',
      `    server: http://127.0.0.1:${port}`, 'users:', '- name: console', '  user:', '    token: console-token',
      'contexts:', '- name: sim', '  context: {cluster: sim, user: console}', '',
    ].join('\n');
    await server.call('POST', '/api/v1/workspaces', { name: 'k8s' });
    await server.call('POST', '/api/v1/workspaces/k8s/projects', { name: 'on-k8s' });
    await server.call('POST', '/api/v1/users', { username: 'k8sdev', password: 'k8sdev-password-1' });
    await server.call('POST', '/api/v1/projects/on-k8s/members', { username: 'k8sdev', role: 'project-developer' });

    const page = await newPage(browser);
    await signIn(page, server.base, 'admin', adminPassword);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clusters' }).click();
    await page.getByRole('heading', { name: 'Clusters', exact: true }).waitFor();
    await page.getByRole('row', { name: /local/ }).getByText('this machine').waitFor();
    const form = page.getByRole('form', { name: 'Register a Kubernetes cluster' });
    await form.getByLabel('Name', { exact: true }).fill('Bad_Name');
    await form.getByText('Lower-case letters, digits and “-”').waitFor();
    assert.ok(await form.getByRole('button', { name: 'Connect and register' }).isDisabled());
    await form.getByLabel('Name', { exact: true }).fill('east');
    await form.getByLabel('Region').fill('cn-east');
    await form.getByLabel('Kubeconfig').fill(kubeconfig);
    await form.getByLabel('Server folders on the cluster').fill('not a mapping');
    await form.getByText('Not SERVER_PATH=claim:NAME or SERVER_PATH=host:/PATH: not a mapping').waitFor();
    await form.getByLabel('Server folders on the cluster').fill(`${server.dataDir}=host:${server.dataDir}`);
    await form.getByRole('button', { name: 'Connect and register' }).click();
    const row = page.getByRole('row', { name: /east/ });
    await row.getByText('ready', { exact: true }).waitFor({ timeout: 20000 });
    await row.getByText('1 of 1 ready').waitFor();
    assert.equal((await page.content()).includes('console-token'), false, 'the credentials never come back');
    await screenshot(page, 'clusters-en');

    // The project's jobs may run on east only (its quota), and one does.
    await page.goto(`${server.base}/projects/on-k8s/quota`);
    await page.getByLabel('Clusters').fill('east');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText('Saved.').waitFor();
    const quota = await server.call('GET', '/api/v1/projects/on-k8s/quota');
    assert.deepEqual(quota.clusters, ['east']);
    const job = await server.call('POST', '/api/v1/projects/on-k8s/jobs', {
      name: 'on-east',
      command: ['sh', '-c', 'echo hello from $NVIDIA_VISIBLE_DEVICES; sleep 30'],
      resources: { gpus: 1, cpu: 0.5, memory_mib: 128 },
    });
    let last;
    await eventually(async () => {
      last = await server.call('GET', `/api/v1/projects/on-k8s/jobs/${job.id}`);
      if (['failed', 'lost', 'cancelled'].includes(last.state)) throw new Error(JSON.stringify(last));
      return last.state === 'running';
    });
    await page.goto(`${server.base}/scheduling`);
    const east = page.getByRole('region', { name: 'Cluster east' });
    await east.locator('.gpu-tile', { has: page.getByRole('link', { name: 'on-east' }) }).waitFor({ timeout: 30000 });
    await page.getByRole('region', { name: 'This machine' }).waitFor();
    await screenshot(page, 'scheduling-clusters-en');
    const running = await server.call('GET', `/api/v1/projects/on-k8s/jobs/${job.id}`);
    assert.ok(running.placement[0].node.startsWith('east/'), JSON.stringify(running.placement));
    await server.call('POST', `/api/v1/projects/on-k8s/jobs/${job.id}/cancel`, {});

    // A developer sees the clusters, not the form.
    const dev = await newPage(browser);
    await signIn(dev, server.base, 'k8sdev', 'k8sdev-password-1');
    await dev.goto(`${server.base}/clusters`);
    await dev.getByRole('row', { name: /east/ }).waitFor();
    assert.equal(await dev.getByRole('form', { name: 'Register a Kubernetes cluster' }).count(), 0);
    await dev.close();

    // In Chinese; then disabled and removed.
    await page.goto(`${server.base}/clusters`);
    await page.getByLabel('Language').selectOption('zh-CN');
    await page.getByRole('heading', { name: '集群', exact: true }).waitFor();
    await page.getByRole('row', { name: /east/ }).getByText('就绪', { exact: true }).waitFor();
    await screenshot(page, 'clusters-zh-CN');
    await page.getByLabel('语言').selectOption('en');
    await eventually(async () => (await server.call('GET', `/api/v1/projects/on-k8s/jobs/${job.id}`)).state === 'cancelled');
    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByText('disabled', { exact: true }).waitFor();
    page.once('dialog', (d) => d.accept());
    await row.getByRole('button', { name: 'Delete' }).click();
    await eventually(async () => (await page.getByRole('row', { name: /east/ }).count()) === 0);
    await page.close();
  } finally {
    sim.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a member\'s job takes a GPU on the scheduling view, a queued one says why; an admin asks what if', async () => {
  await server.call('POST', '/api/v1/workspaces', { name: 'labs' });
  await server.call('POST', '/api/v1/workspaces/labs/projects', { name: 'gpu-lab' });
  await server.call('PUT', '/api/v1/projects/gpu-lab/quota', { gpus: 1 });
  await server.call('POST', '/api/v1/users', { username: 'trainer', password: 'trainer-password-1' });
  await server.call('POST', '/api/v1/projects/gpu-lab/members', { username: 'trainer', role: 'project-developer' });
  const page = await newPage(browser);
  await signIn(page, server.base, 'trainer', 'trainer-password-1');
  await page.goto(`${server.base}/projects/gpu-lab/jobs/new`);
  await page.getByLabel('Name', { exact: true }).fill('on-gpu');
  await page.getByLabel('Command').fill('sleep 300');
  await page.getByLabel('Whole GPUs').check();
  await page.getByLabel('Number of GPUs').fill('1');
  await page.getByLabel('Memory (MiB)').fill('64');
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  await page.getByRole('heading', { name: 'Job on-gpu' }).waitFor();
  await page.locator('.badge', { hasText: 'Running' }).first().waitFor({ timeout: 60000 });
  // A second GPU job of the project waits: its quota is one GPU.
  const waiting = await server.call('POST', '/api/v1/projects/gpu-lab/jobs', {
    name: 'waits',
    command: ['sleep', '300'],
    resources: { gpus: 1, cpu: 0.1, memory_mib: 64 },
  });

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Scheduling' }).click();
  await page.getByRole('heading', { name: 'Scheduling' }).waitFor();
  const tile = page.locator('.gpu-tile', { has: page.getByRole('link', { name: 'on-gpu' }) });
  await tile.waitFor({ timeout: 30000 });
  await tile.getByText('whole GPU').waitFor();
  const row = page.getByRole('row', { name: /waits/ });
  await row.getByText(/project gpu-lab uses 1 of 1 GPUs/).waitFor({ timeout: 30000 });
  await page.getByRole('row', { name: /gpu-lab/ }).getByText('1 of 1 used').waitFor();
  // The placement policy in use (the default: fgd).
  await page.getByText('Placement: fgd, where a job leaves the fewest GPUs unusable').waitFor();
  await screenshot(page, 'scheduling-en');
  // Live updates (every 2 s) do not move the page: no layout shift over three refreshes.
  const shift = await page.evaluate(
    () =>
      new Promise((resolve) => {
        let total = 0;
        const obs = new PerformanceObserver((l) => {
          for (const e of l.getEntries()) if (!e.hadRecentInput) total += e.value;
        });
        obs.observe({ type: 'layout-shift' });
        setTimeout(() => {
          obs.disconnect();
          resolve(total);
        }, 6500);
      }),
  );
  assert.ok(shift < 0.01, `layout shift ${shift} while the scheduling view updated`);
  // In Chinese the engine's reason is said in Chinese, with its numbers.
  await page.getByLabel('Language').selectOption('zh-CN');
  await row.getByText('等待中：项目 gpu-lab 已使用 1 / 1 个 GPU（额定 1，借用上限 0）；此作业需要 1 个').waitFor();
  await page.getByText('放置策略：fgd').waitFor();
  await screenshot(page, 'scheduling-zh-CN');
  await page.getByLabel('语言').selectOption('en');
  await page.getByRole('heading', { name: 'Scheduling' }).waitFor();
  // The overview lists the member's own running job, not the admin's queued one, and the
  // project's GPU use.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('row', { name: /on-gpu/ }).locator('.badge', { hasText: 'Running' }).waitFor();
  assert.equal(await page.getByRole('row', { name: /waits/ }).count(), 0);
  await page.getByRole('row', { name: /gpu-lab/ }).getByText('1 of 1 used').waitFor();
  await page.goBack();
  // The job's link leads to its page.
  await tile.getByRole('link', { name: 'on-gpu' }).click();
  await page.getByRole('heading', { name: 'Job on-gpu' }).waitFor();
  // A developer has no "what if": its address says it does not exist.
  await page.goto(`${server.base}/scheduling/what-if`);
  await page.getByText('This does not exist, or you may not see it.').waitFor();
  assert.deepEqual(page.problems, []);

  // Someone in no project sees that a GPU is held, not by what or whom.
  await server.call('POST', '/api/v1/users', { username: 'stranger', password: 'stranger-password-1' });
  const stranger = await newPage(browser);
  await signIn(stranger, server.base, 'stranger', 'stranger-password-1');
  await stranger.goto(`${server.base}/scheduling`);
  await stranger.getByText('A job of a project you cannot see').first().waitFor({ timeout: 30000 });
  const text = await stranger.locator('main').textContent();
  assert.doesNotMatch(text, /on-gpu|waits|gpu-lab|trainer/);
  await stranger.getByText(/Jobs of projects you cannot see in the queue: [1-9]/).waitFor();

  // The admin runs the simulator on the current cluster and reads its report as charts.
  const admin = await newPage(browser);
  await signIn(admin, server.base, 'admin', adminPassword);
  await admin.goto(`${server.base}/scheduling/what-if`);
  await admin.getByRole('heading', { name: 'Scheduling' }).waitFor();
  const cluster = admin.getByLabel('Cluster (YAML)');
  await until(admin, () => document.querySelector('#whatif-cluster')?.value.includes('gpu-lab'));
  assert.match(await cluster.inputValue(), /gpus_per_node: 2/);
  await admin.getByLabel('Workload', { exact: true }).fill('');
  await admin.getByText('Enter a workload: a generator or a trace.').waitFor();
  assert.equal(await admin.getByRole('button', { name: 'Simulate' }).isDisabled(), true);
  await admin.getByLabel('Workload', { exact: true }).fill('seed: 2\nhours: 12\njobs_per_hour: 6\nclasses:\n  - {name: small, gpus: 1, minutes: 60}\n');
  await admin.getByRole('button', { name: 'Simulate' }).click();
  await admin.getByRole('heading', { name: 'Report' }).waitFor({ timeout: 60000 });
  await admin.getByText(/\d+ jobs over [\d.]+ hours/).waitFor();
  assert.equal(await admin.locator('.report .chart canvas').count() >= 3, true);
  await admin.waitForTimeout(500); // the charts' entry animation
  await screenshot(admin, 'what-if-en');
  assert.deepEqual(admin.problems, []);
  // A cluster that does not parse is refused with the field named (the browser logs the 400).
  await cluster.fill('pools: [{name: default, nodes: 0}]\n');
  await admin.getByRole('button', { name: 'Simulate' }).click();
  await admin.getByRole('alert').getByText(/nodes/).waitFor();
  assert.deepEqual(admin.problems, ['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
  assert.deepEqual(stranger.problems, []);

  for (const id of [waiting.id]) await server.call('POST', `/api/v1/projects/gpu-lab/jobs/${id}/cancel`, {});
  const running = await server.call('GET', '/api/v1/projects/gpu-lab/jobs?state=running');
  for (const j of running.items) await server.call('POST', `/api/v1/projects/gpu-lab/jobs/${j.id}/cancel`, {});
});

test('a developer starts a dev environment, opens it through the platform, stops and resumes it', async () => {
  const page = await newPage(browser);
  await signIn(page, server.base, 'dev1', 'dev1-password-123');
  await page.goto(`${server.base}/projects/vision/jobs/new`);
  await page.getByLabel('Name', { exact: true }).fill('lab');
  await page.getByLabel('Kind').selectOption('devenv');
  await page.getByLabel('Port the environment listens on').fill('8888');
  await page.getByLabel(/^Serves from \//).check();
  await page.getByLabel('Command').fill('cd /job && echo "<h1>notebook home</h1>" > index.html && exec python3 -m http.server 8888');
  await page.getByLabel('Memory (MiB)').fill('256');
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  await page.getByRole('heading', { name: 'Job lab' }).waitFor();
  await page.goto(`${server.base}/projects/vision/devenvs`);
  await page.getByText(/left idle for/).waitFor();
  const open = page.getByRole('link', { name: 'Open' });
  await open.waitFor({ timeout: 60000 });
  await page.getByText(/^if unused, in \d+ (minutes?|hours?)$/).waitFor({ timeout: 10000 });
  await screenshot(page, 'devenvs-en');
  // Through the platform's proxy, with the browser's session (no token in the page).
  const [tab] = await Promise.all([page.context().waitForEvent('page'), open.click()]);
  await tab.getByRole('heading', { name: 'notebook home' }).waitFor({ timeout: 30000 });
  await tab.close();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Stop' }).click();
  await page.getByRole('button', { name: 'Resume' }).waitFor({ timeout: 60000 });
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.getByRole('link', { name: 'Open' }).waitFor({ timeout: 60000 });
  // Someone without a session of the project reaches nothing there.
  const anonymous = await fetch(`${server.base}${await page.getByRole('link', { name: 'Open' }).getAttribute('href')}`);
  assert.equal(anonymous.status, 401);
  // Left alone, it is stopped as idle (the project's setting, shortened here).
  await server.call('PUT', '/api/v1/projects/vision/job-settings', { devenv_idle_s: 2 });
  await page.getByRole('cell', { name: /no traffic for 2 s/ }).first().waitFor({ timeout: 90000 });
  await page.getByRole('button', { name: 'Resume' }).first().waitFor();
  await screenshot(page, 'devenvs-idle-en');
  await server.call('PUT', '/api/v1/projects/vision/job-settings', { devenv_idle_s: 3600 });
  assert.deepEqual(page.problems, []);
});

test('a developer opens Jupyter from the dev environments page and runs 1+1 in a notebook', async (t) => {
  if (!existsSync('/usr/bin/jupyter-notebook')) return t.skip('jupyter-notebook is not installed (scripts/install-deps)');
  if (process.getuid?.() !== 0) return t.skip('the proxy joins the sandbox network namespace (root)');
  // dev1 submits examples/devenv/jupyter.json (on a share of a virtual GPU) with a token.
  const login = await fetch(`${server.base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'dev1', password: 'dev1-password-123' }),
  });
  const { token } = await login.json();
  const as = (method, path, body, headers = {}) =>
    fetch(server.base + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const spec = JSON.parse(readFileSync(new URL('../../examples/devenv/jupyter.json', import.meta.url), 'utf8'));
  const job = await (await as('POST', '/api/v1/projects/vision/jobs', { ...spec, name: 'jupyter' })).json();
  assert.ok(job.id, JSON.stringify(job));
  const base = `/devenvs/${job.id}/`;
  // A notebook to open, saved through Jupyter's API (its XSRF cookie, sent back).
  let xsrf = '';
  for (let i = 0; i < 600 && !xsrf; i++) {
    const r = await as('GET', `${base}tree`);
    xsrf = (r.headers.get('set-cookie') || '').match(/_xsrf=([^;]+)/)?.[1] || '';
    if (!xsrf) await new Promise((r2) => setTimeout(r2, 100));
  }
  assert.ok(xsrf, 'Jupyter came up behind the proxy');
  const saved = await as(
    'PUT',
    `${base}api/contents/e2e.ipynb`,
    { type: 'notebook', content: { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 } },
    { Cookie: `_xsrf=${xsrf}`, 'X-XSRFToken': xsrf },
  );
  assert.ok(saved.ok, await saved.text());

  const page = await newPage(browser);
  await signIn(page, server.base, 'dev1', 'dev1-password-123');
  await page.goto(`${server.base}/projects/vision/devenvs`);
  const open = page.getByRole('row', { name: /jupyter/ }).getByRole('link', { name: 'Open' });
  await open.waitFor({ timeout: 60000 });
  // Jupyter in its own tab, through the platform with the browser's session.
  const [tab] = await Promise.all([page.context().waitForEvent('page'), open.click()]);
  await tab.waitForURL(/\/tree/, { timeout: 30000 });
  await tab.getByText('e2e.ipynb').waitFor({ timeout: 30000 });
  const frames = { sent: 0, received: 0 };
  tab.on('websocket', (ws) => {
    if (!ws.url().includes('/channels')) return;
    ws.on('framesent', () => frames.sent++);
    ws.on('framereceived', () => frames.received++);
  });
  await tab.goto(`${server.base}${base}notebooks/e2e.ipynb`);
  await tab.locator('#kernel_indicator_icon.kernel_idle_icon').waitFor({ timeout: 60000 });
  await tab.locator('.CodeMirror').first().click();
  await tab.keyboard.type('1+1');
  await tab.keyboard.press('Shift+Enter');
  await tab.locator('.output_subarea', { hasText: /^\s*2\s*$/ }).first().waitFor({ timeout: 60000 });
  assert.ok(frames.sent > 0 && frames.received > 0, `WebSocket frames both ways: ${JSON.stringify(frames)}`);
  await screenshot(tab, 'devenv-jupyter-en');
  await tab.close();
  // Nobody else's browser session opens it: the admin's would run its pages.
  const adminPage = await newPage(browser);
  await signIn(adminPage, server.base, 'admin', adminPassword);
  const refused = await adminPage.goto(`${server.base}${base}tree`);
  assert.equal(refused.status(), 403);
  await adminPage.context().close();
  await as('POST', `/api/v1/projects/vision/jobs/${job.id}/cancel`);
  assert.deepEqual(page.problems, []);
});

test('a data owner registers a secret dataset and uploads one; a developer sees names and levels only', async () => {
  const root = mkdtempSync(join(tmpdir(), 'jz-datasets-'));
  chmodSync(root, 0o755); // jobs run as an unprivileged user who must reach the data
  mkdirSync(join(root, 'captions'));
  writeFileSync(join(root, 'captions', 'captions.txt'), 'a cat on a mat\n');
  execFileSync('tar', ['-czf', join(root, 'upload.tar.gz'), '-C', join(root, 'captions'), '.']);
  await server.call('POST', '/api/v1/workspaces/acme/dataset-roots', { path: root });
  await server.call('POST', '/api/v1/users', { username: 'owner1', password: 'owner1-password-1' });
  await server.call('POST', '/api/v1/projects/vision/members', { username: 'owner1', role: 'data-owner' });

  const owner = await newPage(browser);
  await signIn(owner, server.base, 'owner1', 'owner1-password-1');
  await owner.goto(`${server.base}/projects/vision/datasets`);
  await owner.getByLabel('Name', { exact: true }).fill('captions');
  await owner.getByLabel('Security level').selectOption('secret');
  await owner.getByLabel('Folder on the server').fill(join(root, 'captions'));
  await owner.getByRole('button', { name: 'Register a server folder' }).click();
  await owner.getByRole('cell', { name: join(root, 'captions') }).or(owner.getByRole('alert')).waitFor();
  assert.equal(await owner.getByRole('alert').count(), 0, await owner.getByRole('alert').allTextContents().then(String));
  await owner.getByLabel('Name', { exact: true }).fill('uploaded');
  await owner.getByLabel('Archive (.tar or .tar.gz)').setInputFiles(join(root, 'upload.tar.gz'));
  await owner.getByRole('button', { name: 'Upload an archive' }).click();
  await owner.getByText('Dataset uploaded uploaded.').or(owner.getByRole('alert')).waitFor();
  assert.equal(await owner.getByRole('alert').count(), 0, await owner.getByRole('alert').allTextContents().then(String));
  await owner.getByRole('cell', { name: 'uploaded', exact: true }).waitFor();
  await owner.locator('summary', { hasText: 'Log policy of level Secret' }).click();
  const editor = owner.getByRole('textbox', { name: 'Log policy of level Secret' });
  await editor.waitFor();
  const edited = JSON.parse(await editor.inputValue());
  assert.equal(edited.mode, 'whitelist');
  edited.rate_bytes_per_s = 2048;
  await editor.fill('{ not json');
  await owner.getByText('This is not valid JSON.').waitFor();
  await editor.fill(JSON.stringify(edited, null, 2));
  await owner.getByRole('button', { name: 'Save policy' }).last().click();
  await owner.getByText('Policy saved.').waitFor();
  const stored = await server.call('GET', '/api/v1/projects/vision/log-policies/secret');
  assert.equal(stored.policy.rate_bytes_per_s, 2048);
  await screenshot(owner, 'datasets-owner-en');

  const dev = await newPage(browser);
  await signIn(dev, server.base, 'dev1', 'dev1-password-123');
  await dev.goto(`${server.base}/projects/vision/datasets`);
  await dev.getByRole('cell', { name: 'captions' }).waitFor();
  await dev.getByText(/you see their names and levels/).waitFor();
  assert.equal(await dev.getByRole('cell', { name: 'Secret' }).count() >= 1, true);
  assert.equal(await dev.getByText(root).count(), 0, 'no path shown to a developer');
  assert.equal(await dev.getByRole('button', { name: 'Register a server folder' }).count(), 0);
  assert.equal(await dev.getByRole('button', { name: 'Delete' }).count(), 0);
  const pageProblems = [...owner.problems, ...dev.problems];
  // Nor does the API give it (the page shows what the API gives).
  const asDev = await dev.evaluate(async () => (await fetch('/api/v1/projects/vision/datasets')).text());
  assert.equal(asDev.includes(root), false);
  assert.equal(
    await dev.evaluate(async () => (await fetch('/api/v1/projects/vision/datasets/captions/files')).status),
    403,
  );
  await screenshot(dev, 'datasets-developer-en');
  assert.deepEqual(pageProblems, []);
  rmSync(root, { recursive: true, force: true });
});

// Three 8x8 PNGs (red, blue, green): real images for the thumbnails.
const pngs = [
  'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGM4ISeHFTEMLQkAkL9BAbKfPiIAAAAASUVORK5CYII=',
  'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGOQkzuBFTEMLQkAO79BAXNTPmcAAAAASUVORK5CYII=',
  'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGOQWyCHFTEMLQkAfgM3AbhjqwwAAAAASUVORK5CYII=',
].map((b) => Buffer.from(b, 'base64'));

test('a data owner makes dataset versions and browses their thumbnails by split; a developer sees counts only', async () => {
  const root = mkdtempSync(join(tmpdir(), 'jz-versions-'));
  chmodSync(root, 0o755);
  const street = join(root, 'street');
  for (const d of ['train/cars', 'val']) mkdirSync(join(street, d), { recursive: true });
  writeFileSync(join(street, 'train/cars/a.png'), pngs[0]);
  writeFileSync(join(street, 'train/cars/b.png'), pngs[1]);
  writeFileSync(join(street, 'val/c.png'), pngs[0]); // the same bytes as a.png: stored once
  await server.call('POST', '/api/v1/workspaces/acme/dataset-roots', { path: root });
  await server.call('POST', '/api/v1/projects/vision/datasets', { name: 'street', path: street, security_level: 'secret' });
  await server.call('POST', '/api/v1/users', { username: 'vowner', password: 'vowner-password-1' });
  await server.call('POST', '/api/v1/projects/vision/members', { username: 'vowner', role: 'data-owner' });
  await server.call('POST', '/api/v1/users', { username: 'vdev', password: 'vdev-password-12' });
  await server.call('POST', '/api/v1/projects/vision/members', { username: 'vdev', role: 'project-developer' });

  const owner = await newPage(browser);
  await signIn(owner, server.base, 'vowner', 'vowner-password-1');
  await owner.goto(`${server.base}/projects/vision/datasets`);
  await owner.getByRole('link', { name: 'street' }).click();
  await owner.getByText('No versions yet.', { exact: false }).waitFor();
  await owner.getByLabel('Message').fill('first import');
  await owner.getByLabel('Tags').fill('raw, night');
  await owner.getByLabel('Tag new files with their top folder').check();
  await owner.getByRole('button', { name: 'Make version' }).click();
  await owner.getByText(/Version 1 made: 3 files/).or(owner.getByRole('alert')).waitFor();
  assert.equal(await owner.getByRole('alert').count(), 0, await owner.getByRole('alert').allTextContents().then(String));
  const v1 = owner.getByRole('row', { name: /v1 first import/ });
  await v1.waitFor();
  const v1Text = await v1.textContent();
  assert.match(v1Text, /\+3 −0 ~0/);
  assert.match(v1Text, /train 2/);
  assert.match(v1Text, /val 1/);
  assert.match(v1Text, /raw 3/);
  // What this version stored: two files of 8x8 pixels, not three (c.png is a.png's bytes).
  const made = await server.call('GET', '/api/v1/projects/vision/datasets/street/versions/1');
  assert.equal(made.files, 3);
  assert.equal(made.new_bytes, pngs[0].length + pngs[1].length);

  // The folder changes; the next version stores only the new file.
  mkdirSync(join(street, 'test'));
  writeFileSync(join(street, 'test/d.png'), pngs[2]);
  await owner.getByLabel('Message').fill('week 2');
  await owner.getByLabel('Tags').fill('');
  await owner.getByRole('button', { name: 'Make version' }).click();
  await owner.getByText(/Version 2 made: 4 files/).waitFor();
  const v2Text = await owner.getByRole('row', { name: /v2 week 2/ }).textContent();
  assert.match(v2Text, /\+1 −0 ~0/);
  assert.match(v2Text, /test 1/);

  // Browse version 1: its three pictures, shown; then only its val split.
  await v1.getByRole('button', { name: 'Browse' }).click();
  const files = owner.getByRole('region', { name: 'Files of version 1' });
  await files.getByRole('img').nth(2).waitFor();
  assert.equal(await files.getByRole('img').count(), 3, 'version 1 has no d.png');
  const shown = 'section[aria-label="Files of version 1"] img';
  await until(owner, (sel) => {
    const imgs = [...document.querySelectorAll(sel)];
    return imgs.length === 3 && imgs.every((i) => i.complete && i.naturalWidth === 8);
  }, shown);
  await files.getByLabel('Split').selectOption('val');
  await until(owner, (sel) => document.querySelectorAll(sel).length === 1, shown);
  await files.getByRole('img', { name: 'val/c.png' }).waitFor();
  await screenshot(owner, 'dataset-versions-owner-en');

  // A developer: counts, no files, no paths, no making.
  const dev = await newPage(browser);
  await signIn(dev, server.base, 'vdev', 'vdev-password-12');
  await dev.goto(`${server.base}/projects/vision/datasets/street`);
  await dev.getByRole('row', { name: /v2 week 2/ }).waitFor();
  await dev.getByText(/only data owners see its files/).waitFor();
  assert.equal(await dev.getByRole('button', { name: 'Browse' }).count(), 0);
  assert.equal(await dev.getByRole('button', { name: 'Make version' }).count(), 0);
  assert.equal(await dev.getByText('a.png').count(), 0);
  // (What the refusals below print in the console is expected.)
  const pageProblems = [...owner.problems, ...dev.problems];
  for (const path of ['/files', '/files/train/cars/a.png']) {
    assert.equal(
      await dev.evaluate(async (p) => (await fetch(`/api/v1/projects/vision/datasets/street/versions/1${p}`)).status, path),
      403,
      path,
    );
  }
  const made2 = await dev.evaluate(async () =>
    (await fetch('/api/v1/projects/vision/datasets/street/versions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status,
  );
  assert.equal(made2, 403, 'a developer makes no version');
  await screenshot(dev, 'dataset-versions-developer-en');
  assert.deepEqual(pageProblems, []);
  rmSync(root, { recursive: true, force: true });
});

test('a data owner sets lifecycle rules, dry-runs and applies them, and restores the archived version; a developer reads counts only', async () => {
  const root = mkdtempSync(join(tmpdir(), 'jz-lifecycle-'));
  chmodSync(root, 0o755);
  const cams = join(root, 'cams');
  for (const d of ['raw', 'keep', 'new']) mkdirSync(join(cams, d), { recursive: true });
  writeFileSync(join(cams, 'raw/a.png'), pngs[0]);
  writeFileSync(join(cams, 'raw/b.png'), pngs[1]);
  writeFileSync(join(cams, 'keep/k.png'), pngs[2]);
  await server.call('POST', '/api/v1/workspaces/acme/dataset-roots', { path: root });
  await server.call('POST', '/api/v1/projects/vision/datasets', { name: 'cams', path: cams, security_level: 'secret' });
  const base = '/api/v1/projects/vision/datasets/cams';
  await server.call('POST', `${base}/versions`, { message: 'day 1', tag_by_folder: true });
  writeFileSync(join(cams, 'new/c.png'), png(8, 8, (x, y) => [x * 30, y * 30, 77]));
  await server.call('POST', `${base}/versions`, { message: 'day 2', tag_by_folder: true });
  writeFileSync(join(cams, 'new/d.png'), png(8, 8, (x, y) => [y * 30, 99, x * 30]));
  await server.call('POST', `${base}/versions`, { message: 'day 3', tag_by_folder: true });
  await server.call('POST', '/api/v1/users', { username: 'lcowner', password: 'lcowner-password-1' });
  await server.call('POST', '/api/v1/projects/vision/members', { username: 'lcowner', role: 'data-owner' });
  await server.call('POST', '/api/v1/users', { username: 'lcdev', password: 'lcdev-password-1' });
  await server.call('POST', '/api/v1/projects/vision/members', { username: 'lcdev', role: 'project-developer' });

  const owner = await newPage(browser);
  await signIn(owner, server.base, 'lcowner', 'lcowner-password-1');
  await owner.goto(`${server.base}/projects/vision/datasets/cams`);
  const section = owner.getByRole('region', { name: 'Lifecycle rules' });
  await section.getByText('No rules', { exact: false }).waitFor();
  // Rule 1 keeps what is tagged keep; rule 2 deletes raw files; rule 3 archives versions
  // but the newest two.
  for (let i = 0; i < 3; i++) await section.getByRole('button', { name: 'Add a rule' }).click();
  await section.getByLabel('Action of rule 1').selectOption('keep');
  await section.getByLabel('Tag of rule 1').fill('keep');
  await section.getByLabel('After days of rule 1').fill('0');
  await section.getByLabel('Tag of rule 2').fill('raw');
  await section.getByLabel('After days of rule 2').fill('0');
  await section.getByLabel('Action of rule 3').selectOption('archive');
  await section.getByLabel('After days of rule 3').fill('0');
  await section.getByLabel('Spare newest of rule 3').fill('2');
  await section.getByRole('button', { name: 'Save rules' }).click();
  await section.getByText('3 rules saved.').or(section.getByRole('alert')).waitFor();
  assert.equal(await section.getByRole('alert').count(), 0, await section.getByRole('alert').allTextContents().then(String));
  const saved = await server.call('GET', `${base}/lifecycle`);
  assert.deepEqual(saved.rules.map((r) => [r.action, r.tag, r.keep_newest]), [['keep', 'keep', 0], ['delete', 'raw', 0], ['archive', null, 2]]);
  assert.equal(saved.updated_by, 'lcowner');

  // The dry run: two raw files would leave a new version, k.png is kept, v1 archived.
  await section.getByRole('button', { name: 'Dry run' }).click();
  const plan = section.getByRole('region', { name: 'What the rules would do now' });
  await plan.getByText(/2 files \(.*\) would be left out of a new version made from v3/).waitFor();
  await plan.getByText('1 file kept by a keep rule.').waitFor();
  const planned = plan.getByRole('table', { name: 'Files' });
  assert.deepEqual(await planned.locator('tbody code').allTextContents(), ['raw/a.png', 'raw/b.png']);
  await plan.getByRole('row', { name: /v1 Archive/ }).waitFor();
  assert.equal((await server.call('GET', `${base}/versions`)).items.length, 3, 'a dry run changes nothing');
  await screenshot(owner, 'dataset-lifecycle-plan-en');

  // Apply: v4 without the raw files, v1 archived; both in the audit trail.
  owner.once('dialog', (d) => d.accept());
  await section.getByRole('button', { name: 'Apply now' }).click();
  const result = section.getByRole('region', { name: 'What applying did' });
  await result.getByText(/2 files \(.*\) left out: version v4 made\./).waitFor();
  const versions = owner.getByRole('table', { name: 'Versions' });
  await versions.getByRole('row', { name: /v4 lifecycle/ }).waitFor();
  const v1 = versions.getByRole('row', { name: /v1 archived day 1/ });
  await v1.waitFor();
  const v4 = await server.call('GET', `${base}/versions/4`);
  assert.equal(v4.files, 3);
  assert.equal(v4.removed, 2);
  await section.getByText(/Last applied .* by lcowner\. Files left out: 2; versions archived: 1, deleted: 0\./).waitFor();
  const audit = await server.call('GET', '/api/v1/audit?resource=dataset_version');
  const changes = audit.items.filter((r) => r.verb.startsWith('lifecycle_')).map((r) => [r.verb, r.resource_name, r.user]);
  assert.deepEqual(changes.sort(), [['lifecycle_archive', 'cams@1', 'lcowner'], ['lifecycle_delete_files', 'cams@4', 'lcowner']]);
  // An archived version is not mounted by jobs nor read; restoring it brings it back.
  // (The 409 below prints in the console as expected.)
  const ownerProblems = [...owner.problems];
  assert.equal(await owner.evaluate(async (b) => (await fetch(`${b}/versions/1/files/raw/a.png`)).status, base), 409);
  await v1.getByRole('button', { name: 'Restore' }).click();
  await versions.getByRole('row', { name: /v1 day 1/ }).waitFor();
  assert.equal(await owner.evaluate(async (b) => (await fetch(`${b}/versions/1/files/raw/a.png`)).status, base), 200);
  await screenshot(owner, 'dataset-lifecycle-applied-en');

  // A developer: the rules and the dry run's counts, no paths, no changing anything.
  const dev = await newPage(browser);
  await signIn(dev, server.base, 'lcdev', 'lcdev-password-1');
  await dev.goto(`${server.base}/projects/vision/datasets/cams`);
  const devSection = dev.getByRole('region', { name: 'Lifecycle rules' });
  await devSection.getByLabel('Tag of rule 2').waitFor();
  assert.equal(await devSection.getByLabel('Tag of rule 2').isDisabled(), true);
  assert.equal(await devSection.getByRole('button', { name: 'Save rules' }).count(), 0);
  assert.equal(await devSection.getByRole('button', { name: 'Apply now' }).count(), 0);
  assert.equal(await dev.getByRole('button', { name: 'Archive' }).count(), 0);
  await devSection.getByRole('button', { name: 'Dry run' }).click();
  await devSection.getByRole('region', { name: 'What the rules would do now' }).waitFor();
  assert.equal(await devSection.getByRole('table', { name: 'Files' }).count(), 0, 'no paths for a developer');
  const pageProblems = [...ownerProblems, ...dev.problems];
  // (What the refusals below print in the console is expected.)
  const status = (method, path, body) =>
    dev.evaluate(async ([m, p, b]) => {
      const w = await (await fetch('/api/v1/auth/whoami')).json();
      return (await fetch(p, { method: m, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': w.csrf_token }, body: b })).status;
    }, [method, path, body]);
  assert.equal(await status('PUT', `${base}/lifecycle`, '{"rules":[]}'), 403, 'a developer sets no rules');
  assert.equal(await status('POST', `${base}/lifecycle/apply`, '{}'), 403, 'a developer applies nothing');
  assert.equal(await status('POST', `${base}/versions/2/archive`, '{}'), 403, 'a developer archives nothing');
  assert.equal((await server.call('GET', `${base}/lifecycle`)).rules.length, 3, 'the rules are as they were');
  await screenshot(dev, 'dataset-lifecycle-developer-en');
  assert.deepEqual(pageProblems, []);
  rmSync(root, { recursive: true, force: true });
});

test('a data owner converts a version’s COCO annotations to YOLO on the platform; a developer starts none', async () => {
  const root = mkdtempSync(join(tmpdir(), 'jz-convert-'));
  chmodSync(root, 0o755);
  const boxes = join(root, 'boxes');
  mkdirSync(join(boxes, 'images'), { recursive: true });
  mkdirSync(join(boxes, 'annotations'));
  writeFileSync(join(boxes, 'images/a.png'), pngs[0]);
  writeFileSync(join(boxes, 'annotations/instances.json'), JSON.stringify({
    images: [{ id: 1, file_name: 'a.png', width: 8, height: 8 }],
    annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 2, 4, 4] }],
    categories: [{ id: 1, name: 'car' }],
  }));
  await server.call('POST', '/api/v1/workspaces/acme/dataset-roots', { path: root });
  await server.call('POST', '/api/v1/projects/vision/datasets', { name: 'boxes', path: boxes, security_level: 'secret' });
  await server.call('POST', '/api/v1/projects/vision/datasets/boxes/versions', { message: 'coco' });
  for (const [name, role] of Object.entries({ cvowner: 'data-owner', cvdev: 'project-developer' })) {
    await server.call('POST', '/api/v1/users', { username: name, password: `${name}-password-1` });
    await server.call('POST', '/api/v1/projects/vision/members', { username: name, role });
  }
  const owner = await newPage(browser);
  await signIn(owner, server.base, 'cvowner', 'cvowner-password-1');
  await owner.goto(`${server.base}/projects/vision/datasets/boxes`);
  const section = owner.getByRole('region', { name: 'Convert annotations' });
  await section.getByLabel('Annotations in the version').fill('annotations/instances.json');
  await section.getByLabel('To', { exact: true }).selectOption('yolo');
  await section.getByRole('button', { name: 'Convert' }).click();
  const list = section.getByRole('table', { name: 'Conversions' });
  await list.getByText('v2 (2 files)').or(list.getByText('failed')).waitFor({ timeout: 120000 });
  const [made] = (await server.call('GET', '/api/v1/projects/vision/datasets/boxes/conversions')).items;
  assert.equal(made.state, 'done', made.message);
  await owner.getByRole('row', { name: /v2 conversion cnv_/ }).waitFor();
  const v2 = await server.call('GET', '/api/v1/projects/vision/datasets/boxes/versions/2/files');
  assert.deepEqual(v2.items.map((f) => f.path), ['annotations/instances.json', 'images/a.png', 'labels/yolo/classes.txt', 'labels/yolo/labels/a.txt']);
  const label = await owner.evaluate(async () => (await fetch('/api/v1/projects/vision/datasets/boxes/versions/2/files/labels/yolo/labels/a.txt')).text());
  assert.equal(label.trim(), '0 0.37500000 0.50000000 0.50000000 0.50000000');
  await screenshot(owner, 'dataset-convert-owner-en');

  const dev = await newPage(browser);
  await signIn(dev, server.base, 'cvdev', 'cvdev-password-1');
  await dev.goto(`${server.base}/projects/vision/datasets/boxes`);
  await dev.getByRole('table', { name: 'Conversions' }).getByText('done').waitFor();
  assert.equal(await dev.getByRole('button', { name: 'Convert' }).count(), 0);
  const problems = [...owner.problems, ...dev.problems];
  // (What the refusal below prints in the console is expected.)
  const refused = await dev.evaluate(async () => {
    const w = await (await fetch('/api/v1/auth/whoami')).json();
    return (await fetch('/api/v1/projects/vision/datasets/boxes/versions/1/conversions', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': w.csrf_token },
      body: '{"from":"coco","to":"voc","input":"annotations/instances.json"}',
    })).status;
  });
  assert.equal(refused, 403);
  assert.deepEqual(problems, []);
  rmSync(root, { recursive: true, force: true });
});

// A PNG of w x h pixels, pixel(x, y) -> [r, g, b] (for pictures with structure to hash).
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function png(w, h, pixel) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(pixel(x, y), y * (w * 3 + 1) + 1 + x * 3);
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('a data owner has a version checked for duplicates and quality, reviews the proposals and applies them', async () => {
  const root = mkdtempSync(join(tmpdir(), 'jz-curation-'));
  chmodSync(root, 0o755);
  const scenes = join(root, 'scenes');
  mkdirSync(scenes);
  const scene = (shift) => (x, y) => {
    const v = ((x >> 4) + (y >> 5)) % 2 ? 200 : 60;
    const g = x < 48 && y > 40 ? 230 : v;
    return [Math.min(255, g + shift), Math.min(255, v + shift), (x * 2) % 256];
  };
  writeFileSync(join(scenes, 'big1.png'), png(96, 96, scene(0)));
  writeFileSync(join(scenes, 'big1-bright.png'), png(96, 96, scene(4))); // a brighter copy
  writeFileSync(join(scenes, 'other.png'), png(96, 96, (x, y) => {
    const v = Math.hypot(x - 70, y - 30) < 25 ? 220 : y % 12 < 6 ? 50 : 170;
    return [v, 255 - v, 120];
  }));
  writeFileSync(join(scenes, 'tiny.png'), png(16, 16, (x, y) => ((x + y) % 4 < 2 ? [40, 200, 90] : [200, 40, 90])));
  await server.call('POST', '/api/v1/workspaces/acme/dataset-roots', { path: root });
  await server.call('POST', '/api/v1/projects/vision/datasets', { name: 'scenes', path: scenes, security_level: 'secret' });
  await server.call('POST', '/api/v1/projects/vision/datasets/scenes/versions', { message: 'import' });
  await server.call('POST', '/api/v1/users', { username: 'cowner', password: 'cowner-password-1' });
  await server.call('POST', '/api/v1/projects/vision/members', { username: 'cowner', role: 'data-owner' });
  await server.call('POST', '/api/v1/users', { username: 'cdev', password: 'cdev-password-12' });
  await server.call('POST', '/api/v1/projects/vision/members', { username: 'cdev', role: 'project-developer' });

  const owner = await newPage(browser);
  await signIn(owner, server.base, 'cowner', 'cowner-password-1');
  await owner.goto(`${server.base}/projects/vision/datasets/scenes`);
  const section = owner.getByRole('region', { name: 'Duplicates and quality' });
  await section.getByLabel('Near-duplicate radius (bits)').fill('12');
  // Kept as the dataset's thresholds, which its next curations start from.
  await section.getByRole('button', { name: 'Keep as this dataset’s thresholds' }).click();
  await section.getByText(/These are the dataset’s thresholds, set by cowner/).waitFor();
  assert.equal((await server.call('GET', '/api/v1/projects/vision/datasets/scenes/curation-defaults')).options.radius, 12);
  await section.getByRole('button', { name: 'Check this version' }).click();
  // The job runs in the project's sandbox; its report becomes the review queue.
  const row = section.getByRole('row', { name: /v1/ });
  await row.getByText('In review').or(row.getByText('Failed')).waitFor({ timeout: 120000 });
  assert.match(await row.textContent(), /4 images, 1 duplicate groups, 1 flagged/, await row.textContent());
  const queue = owner.getByRole('region', { name: 'Review queue of version 1' });
  const dup = queue.getByRole('listitem', { name: 'big1.png' });
  const small = queue.getByRole('listitem', { name: 'tiny.png' });
  await dup.waitFor();
  assert.match(await dup.textContent(), /near-duplicate of big1-bright\.png/);
  assert.match(await small.textContent(), /small: 16x16, under 64x64/);
  await until(owner, () => {
    const imgs = [...document.querySelectorAll('li[aria-label="big1.png"] img')];
    return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth === 96);
  });
  assert.equal(await queue.getByRole('button', { name: /Make a version without/ }).isDisabled(), true, 'nothing confirmed yet');
  await dup.getByRole('button', { name: 'Confirm removal' }).click();
  await dup.getByText('Confirmed', { exact: true }).waitFor();
  await small.getByRole('button', { name: 'Keep it' }).click();
  await small.getByText('Rejected', { exact: true }).waitFor();
  await screenshot(owner, 'dataset-review-owner-en');
  await queue.getByRole('button', { name: 'Make a version without the 1 confirmed' }).click();
  await owner.getByText('Version 2 made with 3 files.').waitFor();
  await owner.getByRole('row', { name: /v2 curation cur_/ }).waitFor();
  const v2 = await server.call('GET', '/api/v1/projects/vision/datasets/scenes/versions/2/files');
  assert.deepEqual(v2.items.map((f) => f.path), ['big1-bright.png', 'other.png', 'tiny.png']);
  const v1 = await server.call('GET', '/api/v1/projects/vision/datasets/scenes/versions/1/files');
  assert.equal(v1.items.length, 4, 'version 1 keeps every file');
  // The browser shows version 1 by what the check found: the poor one, the group.
  const grouped = await server.call('GET', '/api/v1/projects/vision/datasets/scenes/versions/1/files?duplicates=true');
  assert.deepEqual(grouped.items.map((f) => f.path).sort(), ['big1-bright.png', 'big1.png']);
  const copy = grouped.items.find((f) => f.duplicate_of);
  await owner.getByRole('row', { name: /v1 import/ }).getByRole('button', { name: 'Browse' }).click();
  const files1 = owner.getByRole('region', { name: 'Files of version 1' });
  const thumbs = 'section[aria-label="Files of version 1"] li.thumb';
  await until(owner, (sel) => document.querySelectorAll(sel).length === 4, thumbs);
  await files1.getByLabel('Quality').selectOption('poor');
  await until(owner, (sel) => document.querySelectorAll(sel).length === 1, thumbs);
  await files1.getByText('tiny.png', { exact: true }).waitFor();
  await files1.locator('.badge.problem').getByText(/small/).waitFor();
  await files1.getByLabel('Quality').selectOption('');
  await files1.getByLabel('Only duplicate groups').check();
  await until(owner, (sel) => document.querySelectorAll(sel).length === 2, thumbs);
  await files1.getByText(`duplicate of ${copy.duplicate_of}`).waitFor();
  await screenshot(owner, 'dataset-browser-duplicates-en');

  // A developer sees the counts, never the queue.
  const dev = await newPage(browser);
  await signIn(dev, server.base, 'cdev', 'cdev-password-12');
  await dev.goto(`${server.base}/projects/vision/datasets/scenes`);
  await dev.getByText('Applied as version 2').waitFor();
  assert.equal(await dev.getByRole('button', { name: 'Review' }).count(), 0);
  assert.equal(await dev.getByText('big1.png').count(), 0);
  const pageProblems = [...owner.problems, ...dev.problems];
  const curations = await server.call('GET', '/api/v1/projects/vision/datasets/scenes/curations');
  const id = curations.items[0].id;
  for (const [method, path] of [
    ['GET', `/curations/${id}/proposals`],
    ['POST', `/curations/${id}/decisions`],
    ['POST', `/curations/${id}/apply`],
    ['POST', '/versions/1/curations'],
  ]) {
    const status = await dev.evaluate(
      async ([m, p]) =>
        (await fetch(`/api/v1/projects/vision/datasets/scenes${p}`, {
          method: m,
          headers: { 'Content-Type': 'application/json' },
          body: m === 'POST' ? '{"decisions":{"tiny.png":"confirmed"}}' : undefined,
        })).status,
      [method, path],
    );
    assert.equal(status, 403, `${method} ${path}`);
  }
  await screenshot(dev, 'dataset-review-developer-en');
  assert.deepEqual(pageProblems, []);
  rmSync(root, { recursive: true, force: true });
});

// Draws a box on the tool's drawing area, from and to fractions of its width and height.
async function drawBox(page, area, [x0, y0], [x1, y1]) {
  const b = await area.boundingBox();
  await page.mouse.move(b.x + b.width * x0, b.y + b.height * y0);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width * ((x0 + x1) / 2), b.y + b.height * ((y0 + y1) / 2), { steps: 4 });
  await page.mouse.move(b.x + b.width * x1, b.y + b.height * y1, { steps: 4 });
  await page.mouse.up();
}

test('a labelling task with two annotators and a reviewer: boxes and polygons drawn, reviewed, reworked, exported; statistics right', async () => {
  const root = mkdtempSync(join(tmpdir(), 'jz-labelling-'));
  chmodSync(root, 0o755);
  const parts = join(root, 'parts');
  mkdirSync(parts);
  const picture = (tint) => png(160, 120, (x, y) => [(x + tint) % 256, (y * 2) % 256, tint]);
  writeFileSync(join(parts, 'a.png'), picture(10));
  writeFileSync(join(parts, 'b.png'), picture(90));
  writeFileSync(join(parts, 'c.png'), picture(170));
  await server.call('POST', '/api/v1/workspaces/acme/dataset-roots', { path: root });
  await server.call('POST', '/api/v1/projects/vision/datasets', { name: 'parts', path: parts, security_level: 'secret' });
  await server.call('POST', '/api/v1/projects/vision/datasets/parts/versions', { message: 'import' });
  const people = { lowner: 'data-owner', lann: 'annotator', lbob: 'annotator', lrev: 'annotator' };
  for (const [name, role] of Object.entries(people)) {
    await server.call('POST', '/api/v1/users', { username: name, password: `${name}-password-1` });
    await server.call('POST', '/api/v1/projects/vision/members', { username: name, role });
  }
  const as = async (name) => {
    const page = await newPage(browser);
    await signIn(page, server.base, name, `${name}-password-1`);
    await page.goto(`${server.base}/projects/vision/labelling`);
    return page;
  };

  // The data owner makes the task in the console.
  const owner = await as('lowner');
  const form = owner.getByRole('form', { name: 'New labelling task' });
  await form.getByLabel('Name', { exact: true }).fill('parts');
  await form.getByLabel('Dataset').selectOption('parts');
  await form.getByLabel('Classes').fill('car, person');
  await form.getByLabel('Polygon').check();
  await form.getByLabel('Attributes').fill('occluded: no | yes');
  await form.getByLabel('Images per job').fill('2');
  await form.getByLabel('Annotators').fill('lann, lbob');
  await form.getByLabel('Reviewers').fill('lrev');
  await form.getByRole('button', { name: 'Create task' }).click();
  await owner.getByText('Task parts made over 3 images.').or(owner.getByRole('alert')).waitFor();
  assert.equal(await owner.getByRole('alert').count(), 0, await owner.getByRole('alert').allTextContents().then(String));
  await screenshot(owner, 'labelling-owner-en');

  // Ann: job 1 (a.png, b.png). A car box by mouse, a person polygon by clicks and Enter.
  const ann = await as('lann');
  await ann.getByRole('link', { name: 'Annotate parts, job 1 (2 images)' }).click();
  const areaA = ann.getByRole('img', { name: 'Drawing area of a.png' });
  await areaA.waitFor();
  await drawBox(ann, areaA, [0.25, 0.25], [0.75, 0.5]);
  const shapesAnn = ann.getByRole('list', { name: 'Shapes on this image' });
  await shapesAnn.getByText(/^car Box at 40, 30 \(80 × 30\)$/).waitFor();
  await ann.keyboard.press('n'); // saves and goes on
  const areaB = ann.getByRole('img', { name: 'Drawing area of b.png' });
  await areaB.waitFor();
  await ann.keyboard.press('p');
  await ann.keyboard.press('2');
  const bb = await areaB.boundingBox();
  for (const [fx, fy] of [[0.1, 0.1], [0.5, 0.1], [0.3, 0.8]]) {
    await ann.mouse.click(bb.x + bb.width * fx, bb.y + bb.height * fy);
  }
  await ann.keyboard.press('Enter');
  await shapesAnn.getByText(/^person Polygon at 16, 12 \(64 × 84\)$/).waitFor();
  await ann.keyboard.press('s');
  await ann.getByText('Saved.').waitFor();
  await ann.getByRole('button', { name: 'Submit for review' }).click();
  await ann.getByText('In review').first().waitFor();
  // Bob's job is not Ann's to see (the refused fetches are the only errors her page logs).
  const annProblems = [...ann.problems];
  const taskId = (await server.call('GET', '/api/v1/projects/vision/label-tasks')).items.find((t) => t.name === 'parts').id;
  const jobs = await server.call('GET', `/api/v1/projects/vision/label-tasks/${taskId}/jobs`);
  const job2 = `/api/v1/projects/vision/label-tasks/${taskId}/jobs/${jobs.items[1].id}`;
  assert.equal(await ann.evaluate(async (u) => (await fetch(u)).status, job2), 403);
  assert.equal(await ann.evaluate(async (u) => (await fetch(`${u}/images/c.png`)).status, job2), 403);

  // Bob: job 2 (c.png), one car box.
  const bob = await as('lbob');
  await bob.getByRole('link', { name: 'Annotate parts, job 2 (1 image)' }).click();
  const areaC = bob.getByRole('img', { name: 'Drawing area of c.png' });
  await areaC.waitFor();
  await drawBox(bob, areaC, [0.5, 0.5], [0.9, 0.9]);
  await bob.getByRole('button', { name: 'Submit for review' }).click();
  await bob.getByText('In review').first().waitFor();

  // The reviewer accepts Ann's job and sends Bob's back.
  const rev = await as('lrev');
  await rev.getByRole('link', { name: 'Review parts, job 1 (2 images)' }).click();
  await rev.getByRole('img', { name: 'Drawing area of a.png' }).waitFor();
  await rev.getByRole('list', { name: 'Shapes on this image' }).getByText(/^car Box/).waitFor();
  await screenshot(rev, 'labelling-tool-review-en');
  await rev.getByRole('button', { name: 'Accept job' }).click();
  await rev.getByText('Accepted').first().waitFor();
  await rev.goto(`${server.base}/projects/vision/labelling`);
  await rev.getByRole('link', { name: 'Review parts, job 2 (1 image)' }).click();
  await rev.getByRole('img', { name: 'Drawing area of c.png' }).waitFor();
  await rev.getByLabel('Note to the annotator').fill('the person on the left is missing');
  await rev.getByRole('button', { name: 'Send back' }).click();
  await rev.getByText('Rework').first().waitFor();

  // Bob reworks: the note is shown; a person box added with the keyboard's class 2.
  await bob.goto(`${server.base}/projects/vision/labelling`);
  await bob.getByText('the person on the left is missing').waitFor();
  await bob.getByRole('link', { name: 'Annotate parts, job 2 (1 image)' }).click();
  await bob.getByText('Sent back by the reviewer: the person on the left is missing').waitFor();
  const areaC2 = bob.getByRole('img', { name: 'Drawing area of c.png' });
  await areaC2.waitFor();
  await bob.keyboard.press('2');
  await drawBox(bob, areaC2, [0.05, 0.1], [0.2, 0.6]);
  await bob.getByRole('list', { name: 'Shapes on this image' }).getByText(/^person Box/).waitFor();
  await bob.getByRole('button', { name: 'Submit for review' }).click();
  await bob.getByText('In review').first().waitFor();
  await rev.goto(`${server.base}/projects/vision/labelling`);
  await rev.getByRole('link', { name: 'Review parts, job 2 (1 image)' }).click();
  await rev.getByRole('list', { name: 'Shapes on this image' }).getByText(/^person Box/).waitFor();
  await rev.getByRole('button', { name: 'Accept job' }).click();
  await rev.getByText('Accepted').first().waitFor();

  // The data owner reads the statistics and exports.
  await owner.goto(`${server.base}/projects/vision/labelling`);
  await owner.getByRole('link', { name: 'parts', exact: true }).click();
  const stats = owner.getByRole('table', { name: 'Annotator statistics' });
  const annRow = stats.getByRole('row', { name: /^lann/ });
  const bobRow = stats.getByRole('row', { name: /^lbob/ });
  await annRow.waitFor();
  // annotator, jobs, accepted, images, shapes, reworks, work time, images an hour, agreement
  const cells = async (row) => (await row.getByRole('cell').allTextContents()).map((c) => c.trim());
  const a = await cells(annRow);
  assert.deepEqual([a[0], a[1], a[2], a[3], a[4], a[7]], ['1', '1', '2', '2', '0', '100%']);
  const b = await cells(bobRow);
  assert.deepEqual([b[0], b[1], b[2], b[3], b[4], b[7]], ['1', '1', '1', '2', '1', '100%']);
  await screenshot(owner, 'labelling-task-en');
  await owner.getByRole('button', { name: 'Export as a new version' }).click();
  await owner.getByText('Version 2 made with the labels.').or(owner.getByRole('alert')).waitFor();
  assert.equal(await owner.getByRole('alert').count(), 0, await owner.getByRole('alert').allTextContents().then(String));

  // The export reads back as COCO, to the pixel of what was drawn.
  const coco = JSON.parse(
    await owner.evaluate(async () => (await fetch('/api/v1/projects/vision/datasets/parts/versions/2/files/labels/parts/coco.json')).text()),
  );
  assert.deepEqual(coco.categories.map((c) => c.name), ['car', 'person']);
  assert.deepEqual(coco.images.map((i) => [i.file_name, i.width, i.height]), [['a.png', 160, 120], ['b.png', 160, 120], ['c.png', 160, 120]]);
  const boxes = coco.annotations.map((x) => [x.image_id, x.category_id, x.bbox.map(Math.round), x.attributes]);
  assert.deepEqual(boxes[0], [1, 1, [40, 30, 80, 30], { occluded: 'no' }]);
  assert.deepEqual(boxes[1].slice(0, 3), [2, 2, [16, 12, 64, 84]]);
  assert.equal(coco.annotations[1].segmentation[0].length, 6, 'the polygon\'s three points');
  assert.equal(coco.annotations.filter((x) => x.image_id === 3).length, 2);
  const pageProblems = [...owner.problems, ...annProblems, ...bob.problems, ...rev.problems];
  assert.deepEqual(pageProblems, []);
  rmSync(root, { recursive: true, force: true });
});

test('a developer pushes code and runs it on secret data; its outputs leave only when a data owner approves', async () => {
  // dev1 pushes with a session token as git's password.
  const login = await fetch(`${server.base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'dev1', password: 'dev1-password-123' }),
  });
  const token = (await login.json()).token;
  const root = mkdtempSync(join(tmpdir(), 'jz-code-'));
  chmodSync(root, 0o755);
  mkdirSync(join(root, 'faces'));
  writeFileSync(join(root, 'faces', 'face.txt'), 'a secret face\n');
  await server.call('POST', '/api/v1/workspaces/acme/dataset-roots', { path: root });
  await server.call('POST', '/api/v1/projects/vision/datasets', { name: 'faces', path: join(root, 'faces'), security_level: 'secret' });
  const src = join(root, 'src');
  mkdirSync(src);
  const git = (...args) =>
    execFileSync('git', ['-C', src, ...args], {
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'Dev One', GIT_AUTHOR_EMAIL: 'dev1@example.com', GIT_COMMITTER_NAME: 'Dev One', GIT_COMMITTER_EMAIL: 'dev1@example.com' },
    }).toString();
  git('init', '-q', '-b', 'main');
  writeFileSync(join(src, 'train.sh'), 'cat /data/faces/face.txt > /output/model.bin\n');
  git('add', 'train.sh');
  git('commit', '-q', '-m', 'Train the face model');
  const commit = git('rev-parse', 'HEAD').trim();
  git('push', '-q', `${server.base.replace('://', `://dev1:${token}@`)}/git/vision`, 'main');

  const dev = await newPage(browser);
  await signIn(dev, server.base, 'dev1', 'dev1-password-123');
  await dev.goto(`${server.base}/projects/vision/code`);
  await dev.getByRole('cell', { name: 'Train the face model' }).waitFor();
  assert.match(await dev.getByLabel('Clone command').textContent(), /git clone http:\/\/.*\/git\/vision/);
  await dev.getByText('You may push to this repository.').waitFor();
  await screenshot(dev, 'code-en');

  // The job names the branch from the form; its page shows the commit it ran.
  await dev.goto(`${server.base}/projects/vision/jobs/new`);
  await dev.getByLabel('Name', { exact: true }).fill('train-faces');
  await dev.getByLabel('Command').fill('sh /code/train.sh');
  await dev.getByLabel('Datasets').fill('faces');
  await dev.getByLabel('Code', { exact: true }).fill('main');
  await dev.getByLabel('Memory (MiB)').fill('128');
  await dev.getByRole('button', { name: 'Submit', exact: true }).click();
  await dev.getByRole('heading', { name: 'Job train-faces' }).waitFor();
  await dev.locator('.badge', { hasText: 'Succeeded' }).first().waitFor({ timeout: 60000 });
  await dev.getByText(commit.slice(0, 10)).waitFor();
  await dev.locator('.badge', { hasText: 'Held' }).waitFor();
  await dev.getByRole('cell', { name: 'model.bin' }).waitFor();
  assert.equal(await dev.getByRole('link', { name: 'model.bin' }).count(), 0, 'no download while held');
  assert.equal(await dev.getByText('hidden while held').count(), 1);
  const jobId = dev.url().split('/').pop();
  const file = `/api/v1/projects/vision/jobs/${jobId}/outputs/files/model.bin`;
  assert.equal(await dev.evaluate(async (f) => (await fetch(f)).status, file), 403);
  await dev.getByLabel('Why should these outputs leave?').fill('The model only; it stores no images.');
  await dev.getByRole('button', { name: 'Ask for a release' }).click();
  await dev.getByText(/Waiting for review/).waitFor();
  await screenshot(dev, 'job-outputs-held-en');

  // The data owner refuses: the outputs stay held. Asked again, the owner approves.
  const owner = await newPage(browser);
  await signIn(owner, server.base, 'owner1', 'owner1-password-1');
  await owner.goto(`${server.base}/projects/vision/reviews`);
  const card = owner.getByRole('article', { name: 'Release request for train-faces' });
  await card.getByText('The model only; it stores no images.').waitFor();
  await card.getByText('faces').first().waitFor();
  await screenshot(owner, 'reviews-en');
  await card.getByLabel('Comment').fill('It copies a face verbatim.');
  await card.getByRole('button', { name: 'Refuse' }).click();
  await owner.getByText('No release requests.').waitFor();
  await dev.reload();
  await dev.getByText(/Refused/).waitFor();
  await dev.locator('.badge', { hasText: 'Held' }).waitFor();
  assert.equal(await dev.evaluate(async (f) => (await fetch(f)).status, file), 403);
  await dev.getByLabel('Why should these outputs leave?').fill('Blurred now.');
  await dev.getByRole('button', { name: 'Ask for a release' }).click();
  await dev.getByText(/Waiting for review/).waitFor();
  await owner.reload();
  await card.getByRole('button', { name: 'Approve' }).click();
  await owner.getByText('No release requests.').waitFor();
  await dev.reload();
  await dev.locator('.badge', { hasText: 'Released' }).waitFor();
  await dev.getByRole('link', { name: 'model.bin' }).waitFor();
  assert.equal(await dev.evaluate(async (f) => (await fetch(f)).text(), file), 'a secret face\n');
  await screenshot(dev, 'job-outputs-released-en');
  // The two downloads tried while the outputs were held answered 403, as they must.
  assert.deepEqual([...dev.problems.filter((p) => !p.includes('403')), ...owner.problems], []);
  assert.equal(dev.problems.length, 2);
  rmSync(root, { recursive: true, force: true });
});

test('an admin creates a user and finds a project\'s creation in the audit, and checks the chain', async () => {
  const page = await newPage(browser);
  await signIn(page, server.base, 'admin', adminPassword);
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByLabel('User name').fill('Eve Smith');
  await page.getByText(/Use lower-case letters, digits, dots/).waitFor();
  await page.getByLabel('User name').fill('eve');
  await page.getByLabel('Initial password').fill('short');
  await page.getByText('Use at least 12 characters.').waitFor();
  await page.getByLabel('Initial password').fill('eve-password-123');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('cell', { name: 'eve', exact: true }).waitFor();
  await screenshot(page, 'users-en');

  await page.getByRole('link', { name: 'Audit' }).click();
  await page.getByLabel('Action').fill('create');
  await page.getByLabel('Resource type').fill('projects');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/verb=create&resource=projects/);
  // The filtered answer replaces the whole list: wait until the table shows it.
  const api = await server.call('GET', '/api/v1/audit?verb=create&resource=projects');
  assert.ok(api.items.some((r) => r.resource_name === 'vision'));
  await until(
    page,
    (n) => document.querySelectorAll('tbody tr').length === n &&
      [...document.querySelectorAll('tbody td')].some((td) => td.textContent === 'vision'),
    api.items.length,
  );
  await page.getByRole('button', { name: 'Verify the chain' }).click();
  await page.getByText(/The chain is intact/).waitFor();
  await screenshot(page, 'audit-en');
  // Refusals by status.
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.getByLabel('Status').fill('404');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/status=404/);
  assert.deepEqual(page.problems, []);

  // A workspace admin reads the trail of their workspace only, and verifies nothing.
  await server.call('POST', '/api/v1/workspaces', { name: 'audited' });
  await server.call('POST', '/api/v1/workspaces/audited/projects', { name: 'ledger' });
  await server.call('POST', '/api/v1/users', { username: 'wsboss', password: 'wsboss-password-1' });
  await server.call('POST', '/api/v1/workspaces/audited/members', { username: 'wsboss', role: 'workspace-admin' });
  const boss = await newPage(browser);
  await signIn(boss, server.base, 'wsboss', 'wsboss-password-1');
  assert.equal(await boss.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).count(), 0);
  await boss.goto(`${server.base}/workspaces/audited`);
  await boss.getByRole('link', { name: 'Audit trail' }).click();
  await boss.getByRole('heading', { name: 'Audit of workspace audited' }).waitFor();
  await boss.getByRole('cell', { name: 'ledger', exact: true }).first().waitFor();
  const cells = await boss.locator('tbody td').allTextContents();
  assert.equal(cells.includes('vision'), false, 'another workspace\'s records');
  assert.equal(await boss.getByRole('button', { name: 'Verify the chain' }).count(), 0);
  await screenshot(boss, 'workspace-audit-en');
  // The workspace's viewer is offered no trail.
  await server.call('POST', '/api/v1/users', { username: 'wspeek', password: 'wspeek-password-1' });
  await server.call('POST', '/api/v1/workspaces/audited/members', { username: 'wspeek', role: 'workspace-viewer' });
  const peek = await newPage(browser);
  await signIn(peek, server.base, 'wspeek', 'wspeek-password-1');
  await peek.goto(`${server.base}/workspaces/audited`);
  await peek.getByRole('heading', { name: 'Workspace audited' }).waitFor();
  await peek.waitForLoadState('networkidle');
  assert.equal(await peek.getByRole('link', { name: 'Audit trail' }).count(), 0);
  assert.deepEqual(boss.problems, []);
  assert.deepEqual(peek.problems, []);
});

test('a user changes their profile and password; an admin disables, enables and resets them, and makes a role', async () => {
  await server.call('POST', '/api/v1/users', { username: 'fay', password: 'fay-password-123' });
  const fay = await newPage(browser);
  await signIn(fay, server.base, 'fay', 'fay-password-123');
  await fay.getByRole('link', { name: 'Account' }).click();
  await fay.getByRole('heading', { name: 'Your account' }).waitFor();
  await fay.getByLabel('Display name').fill('Fay Lin');
  await fay.getByRole('button', { name: 'Save', exact: true }).click();
  await fay.getByText('Saved.').waitFor();
  assert.equal((await server.call('GET', '/api/v1/users/fay')).display_name, 'Fay Lin');
  // The form says what is wrong before it sends anything.
  await fay.getByLabel('Current password').fill('fay-password-123');
  await fay.getByLabel('New password', { exact: true }).fill('fay-new-password-1');
  await fay.getByLabel('New password again').fill('fay-new-password-2');
  await fay.getByText('The two new passwords differ.').waitFor();
  await fay.getByLabel('New password again').fill('fay-new-password-1');
  await fay.getByRole('button', { name: 'Change password' }).click();
  await fay.getByText(/Password changed/).waitFor();
  // Her account's activity lists it, with the account's creation.
  await fay.reload();
  const activity = fay.getByRole('table', { name: 'Recent activity' });
  await activity.getByText('PasswordChanged').waitFor();
  await activity.getByText('UserCreated').waitFor();
  await screenshot(fay, 'account-en');
  // Her old password no longer signs in; the new one does.
  const tryLogin = (password) =>
    fetch(`${server.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'fay', password }),
    }).then((r) => r.status);
  assert.equal(await tryLogin('fay-password-123'), 401);
  assert.equal(await tryLogin('fay-new-password-1'), 200);

  // The admin disables her: her open page is signed out at its next request.
  const admin = await newPage(browser);
  await signIn(admin, server.base, 'admin', adminPassword);
  await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  const row = admin.getByRole('row', { name: /^fay / });
  admin.once('dialog', (d) => d.accept());
  await row.getByRole('button', { name: 'Disable' }).click();
  await row.getByRole('button', { name: 'Enable' }).waitFor();
  await fay.reload();
  await fay.waitForURL(/\/login/);
  assert.equal(await tryLogin('fay-new-password-1'), 403);
  await row.getByRole('button', { name: 'Enable' }).click();
  await row.getByRole('button', { name: 'Disable' }).waitFor();
  // And sets her a new password.
  await row.getByRole('button', { name: 'Reset password' }).click();
  await admin.getByLabel('New password for fay').fill('set-by-admin-123');
  await admin.getByRole('button', { name: 'Set password', exact: true }).click();
  await admin.getByText('Password of fay set; their sessions ended.').waitFor();
  assert.equal(await tryLogin('set-by-admin-123'), 200);
  await screenshot(admin, 'users-actions-en');

  // A custom role, made from permissions, offered where members are added.
  await admin.getByRole('link', { name: 'Roles' }).click();
  await admin.getByLabel('Name', { exact: true }).fill('labeler');
  await admin.getByLabel('Permissions').fill('job:get, listing');
  await admin.getByText('Not resource:verb: listing').waitFor();
  // An unknown resource passes the form; the server names what it takes.
  await admin.getByLabel('Permissions').fill('jobs:list');
  await admin.getByRole('button', { name: 'Create' }).click();
  await admin.getByRole('alert').getByText(/must be RESOURCE:VERB/).waitFor();
  await admin.getByLabel('Permissions').fill('job:get, job:list\ndataset:get');
  await admin.getByRole('button', { name: 'Create' }).click();
  await admin.getByRole('cell', { name: /^labeler/ }).waitFor();
  await screenshot(admin, 'roles-en');
  const roles = await server.call('GET', '/api/v1/roles');
  const made = roles.items.find((r) => r.name === 'labeler');
  assert.deepEqual(made.permissions, ['job:get', 'job:list', 'dataset:get']);
  assert.equal(made.created_by, 'admin');
  await server.call('POST', '/api/v1/projects/vision/members', { username: 'fay', role: 'labeler' });
  // Held, it cannot be deleted; the page says why.
  admin.once('dialog', (d) => d.accept());
  await admin.getByRole('row', { name: /^labeler/ }).getByRole('button', { name: 'Delete' }).click();
  await admin.getByText(/held by 1 member/).waitFor();
  await server.call('DELETE', '/api/v1/projects/vision/members/fay');
  assert.deepEqual(fay.problems.filter((p) => !p.includes('401')), []);
  // The refusals asked for above (400: an unknown resource, 409: a held role) and no other.
  assert.deepEqual(admin.problems.filter((p) => !/status of (400|409)/.test(p)), []);
});

test('the main flow works from the keyboard alone', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.base}/login`);
  // The user name field has the focus (once the page has started); Tab goes to the
  // password; Enter signs in.
  await until(page, () => document.activeElement?.id === 'login-username');
  await page.keyboard.type('admin');
  await page.keyboard.press('Tab');
  await page.keyboard.type(adminPassword);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  // The first Tab reaches the skip link, which moves the focus to the page's content.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
  // Links of the navigation are reachable and followed with Enter.
  await page.getByRole('link', { name: 'Workspaces' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
  // Focus is visible: the focused control draws an outline.
  await page.getByLabel('Name', { exact: true }).focus();
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none');
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

test('the GPU dashboard shows every GPU now and over time, a job its resources and usage, a failing GPU its reason', async () => {
  // A server of its own whose GPUs come from the fake NVML, driven by a scenario file.
  const dir = mkdtempSync(join(tmpdir(), 'jz-gpus-'));
  const scenario = join(dir, 'scenario');
  const gpus =
    'gpu uuid=GPU-fake-0000-0 util=37 used_mib=2048 temp=55 power_mw=150000\n' +
    'gpu uuid=GPU-fake-0000-1 util=81 used_mib=4096 temp=66 power_mw=300000\n';
  writeFileSync(scenario, gpus);
  process.env.FAKE_NVML_SCENARIO = scenario;
  const gpuServer = await startServer([
    '--set', `exec.nvml_library=${process.env.JZ_FAKE_NVML}`,
    '--set', 'exec.virtual_gpus=0',
    '--set', 'monitoring.interval_ms=250',
  ]);
  delete process.env.FAKE_NVML_SCENARIO;
  try {
    await gpuServer.call('POST', '/api/v1/workspaces', { name: 'ops' });
    await gpuServer.call('POST', '/api/v1/workspaces/ops/projects', { name: 'watch' });
    const job = await gpuServer.call('POST', '/api/v1/projects/watch/jobs', {
      name: 'busy',
      command: ['sleep', '300'],
      resources: { gpus: 1, cpu: 0.1, memory_mib: 64 },
    });
    const page = await newPage(browser);
    await signIn(page, gpuServer.base, 'admin', adminPassword);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Monitoring' }).click();
    await page.getByRole('heading', { name: 'GPU monitoring' }).waitFor();
    await page.getByRole('cell', { name: /^37%/ }).waitFor({ timeout: 15000 });
    await page.getByRole('cell', { name: /^81%/ }).waitFor();
    assert.equal(await page.getByRole('cell', { name: '66 °C' }).count(), 1);
    // A chart per metric, a line per GPU, over the range picked.
    for (const name of ['Utilisation', 'Memory used', 'Temperature', 'Power']) {
      await page.getByRole('img', { name }).locator('canvas').first().waitFor();
    }
    await page.getByLabel('Range').selectOption('15m');
    const dash = await gpuServer.call('GET', '/api/v1/monitoring/gpus?metric=utilization&range=15m');
    assert.equal(dash.series.length, 2);
    await screenshot(page, 'monitoring-en');

    // XID 79 on GPU 1: out of service, with the reason, on the dashboard and the tiles.
    writeFileSync(`${scenario}.new`, `${gpus}xid gpu=1 code=79\n`);
    renameSync(`${scenario}.new`, scenario);
    await page.getByText('Out of service: XID 79').waitFor({ timeout: 15000 });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Scheduling' }).click();
    await page.getByText(/^Now (37|81) % · (55|66) °C · (150|300) W/).first().waitFor({ timeout: 15000 });
    await page.getByText('Unhealthy: nothing is placed here.').waitFor();

    // The job's page: its resources over time.
    await page.goto(`${gpuServer.base}/projects/watch/jobs/${job.id}`);
    await page.getByRole('heading', { name: 'Resources' }).waitFor();
    // What it may use of its GPU (the fake device's 81559 MiB, all of it).
    await page.getByText('1 whole GPU(s): 81559 MiB of memory each, all their cores.').waitFor();
    await page.getByRole('img', { name: 'CPU of the job' }).waitFor({ timeout: 15000 });
    await page.getByRole('img', { name: 'Memory of the job' }).waitFor();
    await screenshot(page, 'job-resources-en');
    // A share says what it may use: half of the GPU's memory and cores (its vGPU limit).
    const half = await gpuServer.call('POST', '/api/v1/projects/watch/jobs', {
      name: 'half',
      command: ['sleep', '300'],
      resources: { gpus: 0.5, cpu: 0.1, memory_mib: 64 },
    });
    await page.goto(`${gpuServer.base}/projects/watch/jobs/${half.id}`);
    await page
      .getByText("A GPU share: up to 40779 MiB of GPU memory and 50 % of the GPU's cores (the vGPU limit).")
      .waitFor({ timeout: 15000 });
    await gpuServer.call('POST', `/api/v1/projects/watch/jobs/${half.id}/cancel`);
    // The project's measured use, on its quota page (no GPU process in the scenario yet).
    await page.goto(`${gpuServer.base}/projects/watch/quota`);
    await page.getByRole('heading', { name: 'Measured GPU use' }).waitFor();
    await page.getByText('No GPU use measured for this project in this range.').waitFor();
    await gpuServer.call('POST', `/api/v1/projects/watch/jobs/${job.id}/cancel`);

    // Usage: the job's GPU time, totals, a chart by day, a table by project, a CSV file.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Usage and cost' }).waitFor();
    await page.getByRole('cell', { name: 'watch' }).waitFor({ timeout: 15000 });
    await page.getByRole('img', { name: 'GPU-hours by day and project' }).waitFor();
    await page.getByLabel('Group by').selectOption('user');
    await page.getByRole('cell', { name: 'admin' }).waitFor();
    const href = await page.getByRole('link', { name: 'Download CSV' }).getAttribute('href');
    const csv = await page.evaluate((h) => fetch(h).then((r) => r.text()), href);
    assert.match(csv, /^user,gpu_hours,gpu_memory_gib_hours,cpu_core_hours,memory_gib_hours,cost\nadmin,0\.0/);
    await screenshot(page, 'usage-en');
  } finally {
    await gpuServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a project admin adds a webhook receiver, tests it and turns a rule off; a failed job reaches it, in both languages', async () => {
  // A receiver on loopback (allowed on this server only): it records what it is sent.
  const received = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ path: req.url, body: JSON.parse(body) });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise((r) => hook.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${hook.address().port}/hooks/team`;
  const alertServer = await startServer(['--set', 'alerts.allow_private_networks=true']);
  try {
    await alertServer.call('POST', '/api/v1/workspaces', { name: 'lab' });
    await alertServer.call('POST', '/api/v1/workspaces/lab/projects', { name: 'vision' });
    await alertServer.call('POST', '/api/v1/users', { username: 'pam', password: 'pam-password-123' });
    await alertServer.call('POST', '/api/v1/users', { username: 'dev', password: 'dev-password-123' });
    await alertServer.call('POST', '/api/v1/projects/vision/members', { username: 'pam', role: 'project-admin' });
    await alertServer.call('POST', '/api/v1/projects/vision/members', { username: 'dev', role: 'project-developer' });
    const page = await newPage(browser);
    await signIn(page, alertServer.base, 'pam', 'pam-password-123');
    await page.goto(`${alertServer.base}/projects/vision`);
    await page.getByRole('navigation', { name: 'Project pages' }).getByRole('link', { name: 'Alerts' }).click();
    await page.getByRole('heading', { name: 'Rules', exact: true }).waitFor();
    await page.getByText('No receivers yet: nobody is told when something happens.').waitFor();

    // A bad name is flagged; a good receiver is added, its secret never shown again.
    await page.locator('#receiver-name').fill('Team');
    await page.getByText(/Use lower-case letters, digits/).waitFor();
    await page.locator('#receiver-name').fill('team');
    await page.locator('#receiver-channel').selectOption('webhook');
    await page.locator('#receiver-url').fill(hookUrl);
    await page.locator('#receiver-secret').fill('hook-secret');
    await page.getByRole('button', { name: 'Add receiver' }).click();
    await page.getByRole('rowheader', { name: 'team' }).waitFor();
    const stored = await alertServer.call('GET', '/api/v1/projects/vision/receivers/team');
    assert.equal(stored.has_secret, true);
    assert.equal(JSON.stringify(stored).includes('hook-secret'), false);

    // A test message: delivered, signed, and in the history.
    await page.getByRole('button', { name: 'Send a test message to team' }).click();
    await page.getByText('Delivered (answer 200).').waitFor();
    assert.equal(received.length, 1);
    assert.equal(received[0].body.version, '4');
    assert.equal(received[0].body.alerts[0].labels.alertname, 'test');
    const history = page.getByRole('table', { name: 'Delivery history' });
    await history.getByText('Delivered').first().waitFor();

    // "A job finished" off for this project; a failed job still reaches the receiver.
    await page.getByLabel('A job finished: on').click();
    await until(page, () => !document.querySelector('input[aria-label="A job finished: on"]')?.checked);
    const rules = await alertServer.call('GET', '/api/v1/projects/vision/alert-rules');
    assert.equal(rules.find((r) => r.rule === 'job_succeeded').enabled, false);
    assert.equal(rules.find((r) => r.rule === 'job_succeeded').set_by, 'project');
    const ok = await alertServer.call('POST', '/api/v1/projects/vision/jobs', {
      name: 'fine', command: ['true'], resources: { cpu: 0.1, memory_mib: 64 },
    });
    const bad = await alertServer.call('POST', '/api/v1/projects/vision/jobs', {
      name: 'broken', command: ['false'], resources: { cpu: 0.1, memory_mib: 64 },
    });
    await history.getByText(new RegExp(`A job failed: job ${bad.id}`)).waitFor({ timeout: 30000 });
    const failed = received.find((r) => r.body.alerts[0].labels.alertname === 'job_failed');
    assert.equal(failed.body.alerts[0].labels.project, 'vision');
    assert.equal(failed.body.alerts[0].labels.resource, bad.id);
    assert.match(failed.body.alerts[0].generatorURL, new RegExp(`/projects/vision/jobs/${bad.id}$`));
    assert.equal(received.some((r) => r.body.alerts[0].labels.resource === ok.id), false);
    // A custom rule from the form: previewed, added, and exported with the project's
    // matcher in its expression; an alert Prometheus sends (POST /api/v2/alerts) shows as
    // firing and reaches the receiver.
    await page.locator('#rule-name').fill('idle-gpus');
    await page.locator('#rule-expr').fill('avg_over_time(jizhan_job_gpu_util[30m]) < 5');
    await page.locator('#rule-for').fill('10m');
    await page.locator('#rule-summary').fill('{{ $labels.job }} idles');
    await page.getByRole('button', { name: 'What would fire now?' }).click();
    await page.getByText(/Nothing matches now\.|series match now|no metrics here/).waitFor();
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.getByRole('table', { name: 'Custom rules' }).getByRole('rowheader', { name: 'idle-gpus' }).waitFor();
    const href = await page.getByRole('link', { name: 'Download as a Prometheus rule file' }).getAttribute('href');
    const yaml = await page.evaluate((h) => fetch(h).then((r) => r.text()), href);
    assert.match(yaml, /avg_over_time\(jizhan_job_gpu_util\{project=\\"vision\\"\}\[30m\]\) < 5/);
    assert.match(yaml, /for: 10m/);
    await alertServer.call('POST', '/api/v2/alerts', [
      { labels: { alertname: 'LossDiverged', project: 'vision', severity: 'critical' },
        annotations: { summary: 'loss is NaN in run 7' } },
    ]);
    await page.getByRole('table', { name: 'Alerts now' }).getByRole('rowheader', { name: 'LossDiverged' }).waitFor({ timeout: 15000 });
    await history.getByText('loss is NaN in run 7').waitFor({ timeout: 15000 });
    assert.ok(received.some((r) => r.body.alerts[0].labels.alertname === 'LossDiverged'));
    // A silence from the form: the next alert that matches is held back, shown as such.
    await page.locator('#silence-matchers').fill('alertname="LossDiverged"');
    await page.locator('#silence-duration').fill('1h');
    await page.locator('#silence-comment').fill('known NaN, fixing the data');
    await page.getByRole('button', { name: 'Silence', exact: true }).click();
    await page.getByRole('table', { name: 'Silences' }).getByText('known NaN, fixing the data').waitFor();
    const before = received.length;
    await alertServer.call('POST', '/api/v2/alerts', [
      { labels: { alertname: 'LossDiverged', project: 'vision', run: '8' }, annotations: { summary: 'loss is NaN in run 8' } },
    ]);
    await history.getByRole('row', { name: /loss is NaN in run 8.*Silenced/ }).waitFor({ timeout: 15000 });
    assert.equal(received.length, before);
    // An inhibition rule: while a run's loss has diverged, its warnings are held back.
    await page.locator('#inhibit-source').fill('alertname="LossDiverged"');
    await page.locator('#inhibit-target').fill('severity="warning"');
    await page.locator('#inhibit-equal').fill('run');
    await page.locator('#inhibit-comment').fill('a diverged run says enough');
    await page.getByRole('button', { name: 'Add inhibition rule' }).click();
    await page.getByRole('table', { name: 'Inhibition rules' }).getByRole('cell', { name: 'a diverged run says enough', exact: true }).waitFor();
    await alertServer.call('POST', '/api/v2/alerts', [
      { labels: { alertname: 'SlowSteps', project: 'vision', run: '8', severity: 'warning' }, annotations: { summary: 'slow steps in run 8' } },
    ]);
    await history.getByRole('row', { name: /slow steps in run 8.*Inhibited/ }).waitFor({ timeout: 15000 });
    assert.equal(received.length, before);
    // A receiver in Chinese that groups by alert name: two alerts go out in one message.
    await page.locator('#receiver-name').fill('digest');
    await page.locator('#receiver-channel').selectOption('slack');
    await page.locator('#receiver-url').fill(hookUrl.replace('/team', '/digest'));
    await page.locator('#receiver-language').selectOption('zh-CN');
    await page.locator('#receiver-matchers').fill('alertname=~"Disk.*"');
    await page.locator('#receiver-group-by').fill('alertname');
    await page.locator('#receiver-group-wait').fill('2s');
    await page.getByText('Wording (optional)').click();
    await page.locator('#receiver-text-template').fill('{{ $text }}\n-- {{ $receiver }}, {{ $count }}');
    await page.getByRole('button', { name: 'Add receiver' }).click();
    const digestRow = page.getByRole('row', { name: /digest/ });
    await digestRow.getByText('By alertname: wait 2s, then every 5m; repeat 4h').waitFor();
    await digestRow.getByText('简体中文').waitFor();
    await digestRow.getByText('alertname=~"Disk.*"').waitFor();
    await alertServer.call('POST', '/api/v2/alerts', [
      { labels: { alertname: 'DiskSlow', project: 'vision', node: 'a' }, annotations: { summary: 'disk slow on a' } },
      { labels: { alertname: 'DiskSlow', project: 'vision', node: 'b' }, annotations: { summary: 'disk slow on b' } },
    ]);
    await history.getByRole('row', { name: /2 alerts: alertname=DiskSlow/ }).waitFor({ timeout: 15000 });
    for (let i = 0; i < 100 && !received.some((r) => r.path === '/hooks/digest'); i++) await new Promise((r) => setTimeout(r, 100));
    const digest = received.filter((r) => r.path === '/hooks/digest');
    assert.equal(digest.length, 1);
    assert.match(digest[0].body.text, /^\[告警\] \[警告\] 2 条告警：alertname=DiskSlow/);
    assert.match(digest[0].body.text, /disk slow on a/);
    assert.match(digest[0].body.text, /disk slow on b/);
    assert.match(digest[0].body.text, /\n-- digest, 2$/);
    // The limits the built-in rules watch: a job queued 45 minutes is reported.
    await page.locator('#queued-alert-minutes').fill('45');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await page.getByText('Saved.').waitFor();
    assert.equal((await alertServer.call('GET', '/api/v1/projects/vision/job-settings')).queued_alert_s, 2700);
    await screenshot(page, 'project-alerts-en');

    // A developer reads the rules, receivers and history but changes nothing.
    const devPage = await newPage(browser, { language: 'zh-CN' });
    await devPage.goto(`${alertServer.base}/login`);
    await devPage.evaluate(() => localStorage.setItem('jz.lang', 'zh-CN'));
    await signIn(devPage, alertServer.base, 'dev', 'dev-password-123');
    await devPage.goto(`${alertServer.base}/projects/vision/alerts`);
    await devPage.getByRole('heading', { name: '接收者' }).waitFor();
    await devPage.getByRole('rowheader', { name: 'team' }).waitFor();
    assert.equal(await devPage.getByLabel('作业完成：启用').isDisabled(), true);
    assert.equal(await devPage.getByRole('button', { name: '添加接收者' }).count(), 0);
    assert.equal(await devPage.locator('#queued-alert-minutes').inputValue(), '45');
    assert.equal(await devPage.locator('#queued-alert-minutes').isDisabled(), true);
    await devPage.getByRole('table', { name: '发送记录' }).getByText('已送达').first().waitFor();
    await screenshot(devPage, 'project-alerts-zh-CN');
    const refused = await devPage.evaluate(() =>
      fetch('/api/v1/auth/whoami')
        .then((r) => r.json())
        .then((w) =>
          fetch('/api/v1/projects/vision/receivers', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': w.csrf_token },
            body: JSON.stringify({ name: 'mine', channel: 'slack', config: { url: 'https://hooks.example/x' } }),
          }),
        )
        .then((r) => r.status),
    );
    assert.equal(refused, 403);
    // The job's owner hears of their own job on the bell, whatever the project's rules.
    const mine = await devPage.evaluate(() =>
      fetch('/api/v1/auth/whoami')
        .then((r) => r.json())
        .then((w) =>
          fetch('/api/v1/projects/vision/jobs', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': w.csrf_token },
            body: JSON.stringify({ name: 'mine', command: ['false'], resources: { cpu: 0.1, memory_mib: 64 } }),
          }),
        )
        .then((r) => r.json()),
    );
    await devPage.reload();
    await devPage.getByRole('link', { name: '通知：1 条未读' }).waitFor({ timeout: 30000 });
    await devPage.getByRole('link', { name: '通知：1 条未读' }).click();
    const inbox = devPage.getByRole('table', { name: '我的通知' });
    await inbox.getByRole('rowheader', { name: /作业失败/ }).waitFor();
    await inbox.getByRole('link', { name: mine.id }).waitFor();
    await devPage.getByRole('button', { name: `将 ${mine.id} 标为已读` }).click();
    await devPage.getByRole('link', { name: '通知：0 条未读' }).waitFor();
    await devPage.getByLabel('作业完成', { exact: true }).click();
    await until(devPage, () => ![...document.querySelectorAll('ul.checks input')].some((i) => i.checked && i.parentElement.textContent.includes('作业完成')));
    await screenshot(devPage, 'notifications-zh-CN');
    // Nobody else's: the admin's bell holds the admin's jobs (the finished one too, though
    // the project turned that rule off), never the developer's.
    const adminInbox = await alertServer.call('GET', '/api/v1/me/inbox');
    const about = adminInbox.items.map((i) => `${i.rule}:${i.labels.resource}`);
    assert.ok(about.includes(`job_failed:${bad.id}`), about.join(' '));
    assert.ok(about.includes(`job_succeeded:${ok.id}`), about.join(' '));
    assert.equal(about.some((x) => x.endsWith(mine.id)), false);
    const devSubs = await devPage.evaluate(() => fetch('/api/v1/me/subscriptions').then((r) => r.json()));
    assert.equal(devSubs.find((x) => x.rule === 'job_succeeded').subscribed, false);
    assert.equal((await alertServer.call('GET', '/api/v1/me/subscriptions')).find((x) => x.rule === 'job_succeeded').subscribed, true);
    assert.deepEqual(page.problems, []);
  } finally {
    await alertServer.stop();
    hook.close();
  }
});

test('a job logs curves through the client; a developer compares runs, smooths, zooms and changes the axes', async () => {
  // A job of dev1's (a developer of vision since the job-form test) logs through the
  // client the platform puts in every sandbox; a second run comes from a script outside.
  // A real training loop (Debian's python3-torch on the CPU): a small network learns
  // XOR-like classes from synthetic data, 400 steps.
  const script = [
    'import torch, jizhan',
    'torch.manual_seed(0)',
    'x = torch.randn(512, 2)',
    'y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()',
    'model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))',
    'opt = torch.optim.Adam(model.parameters(), lr=0.01)',
    'run = jizhan.init()',
    'run.config(lr=0.01, batch_size=32)',
    'for step in range(400):',
    '    opt.zero_grad()',
    '    out = model(x)',
    '    loss = torch.nn.functional.cross_entropy(out, y)',
    '    loss.backward()',
    '    opt.step()',
    '    run.log({"train/loss": loss.item(), "train/acc": (out.argmax(1) == y).float().mean().item()}, step=step)',
    '    if step % 100 == 0: run.progress(step, 400)',
    'run.progress(400, 400)',
    'run.note("finished all 400 steps")',
    'run.finish()',
  ].join('\n');
  const dev = await fetch(`${server.base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'dev1', password: 'dev1-password-123' }),
  }).then((r) => r.json());
  const as = (method, path, body) =>
    fetch(server.base + path, {
      method,
      headers: { Authorization: `Bearer ${dev.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then((r) => r.json());
  const job = await as('POST', '/api/v1/projects/vision/jobs', {
    name: 'curves',
    command: ['/usr/bin/python3', '-c', script],
    resources: { cpu: 1, memory_mib: 1024 },
  });
  await as('POST', '/api/v1/projects/vision/runs', { name: 'baseline', config: { lr: 0.1, batch_size: 64 } });
  const steps = [...Array(400).keys()];
  await as('POST', '/api/v1/projects/vision/runs/baseline/records', {
    records: [
      { kind: 'points', tag: 'train/loss', steps, values: steps.map((i) => Math.exp(-i / 200) + 0.1) },
      { kind: 'points', tag: 'train/acc', steps, values: steps.map((i) => 0.9 * (1 - Math.exp(-i / 200))) },
      { kind: 'finish' },
    ],
  });
  for (let i = 0; ; ++i) {
    const j = await as('GET', `/api/v1/projects/vision/jobs/${job.id}`);
    if (j.state === 'succeeded') break;
    assert.ok(!['failed', 'cancelled'].includes(j.state) && i < 600, JSON.stringify(j));
    await new Promise((r) => setTimeout(r, 100));
  }

  const page = await newPage(browser);
  await signIn(page, server.base, 'dev1', 'dev1-password-123');
  // The job's page: its metrics with the curve.
  await page.goto(`${server.base}/projects/vision/jobs/${job.id}`);
  await page.getByRole('heading', { name: 'Metrics' }).waitFor();
  await page.getByRole('img', { name: 'Curve of train/loss' }).waitFor();
  await page.getByText('400 points in range', { exact: false }).first().waitFor();
  await screenshot(page, 'job-metrics-en');
  // The sidebar's Training metrics leads to the project's runs.
  await page.getByRole('link', { name: 'Training metrics' }).click();
  await page.getByRole('button', { name: 'vision' }).click();
  await page.getByRole('heading', { name: 'Training runs' }).waitFor();
  const table = page.getByRole('table', { name: 'Runs with their hyper-parameters and last values' });
  await table.getByRole('link', { name: job.id }).waitFor();
  await table.getByRole('link', { name: 'baseline' }).waitFor();
  // Sort by the learning rate: baseline's 0.1 comes after 0.01.
  await table.getByRole('button', { name: 'lr' }).click();
  const names = async () => (await table.locator('tbody tr td:nth-child(2)').allTextContents()).map((t) => t.trim());
  assert.deepEqual(await names(), [job.id, 'baseline']);
  await table.getByRole('button', { name: 'lr' }).click();
  assert.deepEqual(await names(), ['baseline', job.id]);
  // Pick both: their curves overlaid, smoothed by the server.
  const smoothed = page.waitForResponse((r) => r.url().includes('/series?') && r.url().includes('smoothing=0.6'));
  // (The choice goes through the address: the box shows it once the page has moved.)
  await page.getByLabel(`Compare run ${job.id}`).click();
  await page.getByRole('heading', { name: 'Curves of 1 runs' }).waitFor();
  await page.getByLabel('Compare run baseline').click();
  await page.getByRole('heading', { name: 'Curves of 2 runs' }).waitFor();
  const answer = await (await smoothed).json();
  assert.equal(answer.series.length, 2);
  assert.ok(answer.series.every((s) => s.points.length === 400 && typeof s.points[399].smoothed === 'number'));
  await page.getByRole('img', { name: 'Curve of train/acc' }).waitFor();
  assert.match(page.url(), /compare=/);
  await screenshot(page, 'runs-compare-en');
  // The x axis by wall time, a log scale, no smoothing, side by side: each in the address.
  const byWall = page.waitForResponse((r) => r.url().includes('/series?') && r.url().includes('x=wall'));
  await page.getByLabel('X axis').selectOption('wall');
  await byWall;
  await page.getByLabel('Log scale').click();
  await page.getByLabel('Smoothing').fill('0');
  await page.getByLabel('Layout').selectOption('side');
  await until(page, () => document.querySelectorAll('figure.curve').length === 4);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('x'), 'wall');
  assert.equal(url.searchParams.get('log'), '1');
  assert.equal(url.searchParams.get('layout'), 'side');
  assert.equal(url.searchParams.get('smooth'), '0');
  await screenshot(page, 'runs-side-en');
  // Zooming asks the server for the range again at full detail.
  await page.getByLabel('Layout').selectOption('overlay');
  await page.getByLabel('X axis').selectOption('step');
  const zoomed = page.waitForResponse((r) => r.url().includes('/series?') && r.url().includes('from='));
  const chart = page.getByRole('img', { name: 'Curve of train/loss' });
  const box = await chart.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -600);
  const z = await zoomed;
  const range = new URL(z.url());
  assert.ok(Number(range.searchParams.get('to')) - Number(range.searchParams.get('from')) < 399, z.url());
  await page.getByRole('button', { name: 'Reset zoom' }).first().click();
  // Against another tag: accuracy as the x axis (its value as of each step).
  const byAcc = page.waitForResponse(
    (r) => r.url().includes('/series?') && decodeURIComponent(r.url()).includes('x=tag:train/acc'),
  );
  await page.getByLabel('X axis').selectOption('tag:train/acc');
  const accAnswer = await (await byAcc).json();
  assert.ok(accAnswer.series.every((s) => s.points.length > 0 && s.points.every((p) => p.x >= 0 && p.x <= 1)));
  await page.getByLabel('X axis').selectOption('step');
  // A run's own page: its hyper-parameters and notes.
  await page.getByRole('link', { name: job.id }).click();
  await page.getByRole('heading', { name: `Run ${job.id}` }).waitFor();
  await page.getByText('finished all 400 steps').waitFor();
  await page.getByRole('rowheader', { name: 'batch_size' }).waitFor();

  // A job watched unattended: its progress read from its log (no client), a milestone
  // checked as typed, its owner told of its progress.
  await page.goto(`${server.base}/projects/vision/jobs/new`);
  await page.getByLabel('Name', { exact: true }).fill('watched');
  await page.getByLabel('Command').fill('for i in 1 2 3 4 5 6 7 8; do echo "epoch $i/8"; sleep 1; done');
  await page.getByLabel('Memory (MiB)').fill('64');
  await page.getByLabel('Milestones').fill('val/acc => 0.9');
  await page.getByText('Line 1 is not TAG OP NUMBER (such as val/acc >= 0.9).').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Submit', exact: true }).isDisabled(), true);
  await page.getByLabel('Milestones').fill('val/acc >= 0.9');
  await page.getByLabel('Tell me its progress every (%)').fill('50');
  await screenshot(page, 'submit-watch-en');
  await page.getByRole('button', { name: 'Submit', exact: true }).click();
  await page.getByRole('heading', { name: 'Job watched' }).waitFor();
  await page.getByText(/of 8, from its log/).waitFor({ timeout: 30000 });
  await screenshot(page, 'job-progress-en');
  await page.locator('.badge', { hasText: 'Succeeded' }).first().waitFor({ timeout: 60000 });
  await page.getByText('val/acc >= 0.9').waitFor();
  const watchedId = page.url().split('/').pop();
  const watched = await as('GET', `/api/v1/projects/vision/jobs/${watchedId}`);
  assert.deepEqual(watched.spec.monitor.milestones, ['val/acc >= 0.9']);
  assert.equal(watched.spec.monitor.progress_every_percent, 50);
  let told = [];
  for (let i = 0; i < 100 && told.length === 0; ++i) {
    const inbox = await as('GET', '/api/v1/me/inbox');
    told = inbox.items.filter((n) => n.rule === 'training_progress');
    if (told.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(told.length, 1, 'the owner hears of 50 % once');
  assert.deepEqual(page.problems, []);
});

test('a data owner makes a test suite; a developer uploads a package, evaluates it and reads a redacted report', async () => {
  const bin = process.env.JIZHAN_BIN;
  const build = join(bin, '..', '..');
  const root = mkdtempSync(join(tmpdir(), 'jz-autotest-'));
  chmodSync(root, 0o755);
  // Images the browser side need not decode: binary PPM with solid rectangles.
  const truth = [];
  mkdirSync(join(root, 'blobs'));
  const colours = [['red', [255, 0, 0]], ['green', [0, 255, 0]], ['blue', [0, 0, 255]]];
  for (let i = 0; i < 6; i++) {
    const w = 80, h = 60;
    const px = Buffer.alloc(w * h * 3, 90);
    const boxes = [];
    colours.forEach(([label, rgb], k) => {
      const x = 4 + k * 25, y = 5 + ((i * 7 + k * 11) % 30), bw = 12 + ((i + k) % 6), bh = 10 + (k % 5);
      for (let yy = y; yy < y + bh; yy++) for (let xx = x; xx < x + bw; xx++) px.set(rgb, (yy * w + xx) * 3);
      boxes.push({ label, x, y, width: bw, height: bh });
    });
    const name = `b${i}.ppm`;
    writeFileSync(join(root, 'blobs', name), Buffer.concat([Buffer.from(`P6\n${w} ${h}\n255\n`), px]));
    truth.push({ image: name, boxes: i === 0 ? [...boxes, { label: 'yellow', x: 70, y: 50, width: 5, height: 5 }] : boxes });
  }
  writeFileSync(join(root, 'truth.jsonl'), truth.map((t) => JSON.stringify(t)).join('\n') + '\n');
  writeFileSync(
    join(root, 'blobs.yaml'),
    'name: blobs\ntask: detection\npredictions: {id: sample}\nannotations: {id: image}\ndetection:\n' +
      '  objects:\n    prediction: result.algorithm_data.target_info[*]\n    annotation: boxes[*]\n' +
      "  box: {prediction: '@box', annotation: '@box'}\n  label: {prediction: name, annotation: label}\n" +
      '  score: {prediction: confidence@num}\n  metric: coco\n',
  );
  execFileSync('tar', ['-czf', join(root, 'blobs.tgz'), '-C', join(root, 'blobs'), ...truth.map((t) => t.image)]);
  // The package, signed with a key of the test's own.
  const env = { ...process.env, JIZHAN_CONFIG_DIR: join(root, 'config') };
  delete env.JIZHAN_BIN;
  mkdirSync(join(root, 'pkg'));
  writeFileSync(join(root, 'pkg', 'manifest.json'), JSON.stringify({ library: 'color_blobs.so' }));
  writeFileSync(join(root, 'pkg', 'color_blobs.so'), readFileSync(join(build, 'examples', 'algorithms', 'color_blobs.so')));
  execFileSync(bin, ['license', 'keygen', '--name', 'acme-vision', '--out', join(root, 'vendor')], { env });
  execFileSync(bin, ['algo', 'pack', join(root, 'pkg'), '--key', join(root, 'vendor.key'), '--out', join(root, 'color_blobs.jzpkg')], { env });

  await server.call('POST', '/api/v1/users', { username: 'owner2', password: 'owner2-password-1' });
  await server.call('POST', '/api/v1/projects/vision/members', { username: 'owner2', role: 'data-owner' });
  const up = await fetch(`${server.base}/api/v1/projects/vision/datasets/blobs/archive?security_level=secret`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/octet-stream' },
    body: readFileSync(join(root, 'blobs.tgz')),
  });
  assert.equal(up.status, 201, await up.text());

  const owner = await newPage(browser);
  await signIn(owner, server.base, 'owner2', 'owner2-password-1');
  await owner.goto(`${server.base}/projects/vision/tests`);
  await owner.getByRole('heading', { name: 'Test suites' }).waitFor();
  await owner.getByLabel('Name', { exact: true }).fill('blobs');
  await owner.getByLabel('Samples (dataset)').selectOption('blobs');
  await owner.getByLabel('Template', { exact: true }).fill(readFileSync(join(root, 'blobs.yaml'), 'utf8'));
  await owner.getByLabel('Annotations', { exact: true }).setInputFiles(join(root, 'truth.jsonl'));
  await owner.getByLabel('Pass thresholds').fill('mAP >= 0.5\np99_latency_ms <= 10000');
  await owner.getByRole('button', { name: 'Make the suite' }).click();
  await owner.getByText('mAP >= 0.5', { exact: true }).or(owner.getByRole('alert')).waitFor();
  assert.equal(await owner.getByRole('alert').count(), 0, await owner.getByRole('alert').allTextContents().then(String));
  await screenshot(owner, 'tests-owner-en');

  const dev = await newPage(browser);
  await signIn(dev, server.base, 'dev1', 'dev1-password-123');
  await dev.goto(`${server.base}/projects/vision`);
  await dev.getByRole('link', { name: 'Tests', exact: true }).click();
  await dev.getByRole('heading', { name: 'Algorithm packages' }).waitFor();
  assert.equal(await dev.getByRole('button', { name: 'Make the suite' }).count(), 0, 'developers make no suites');
  await dev.getByLabel('Package (.jzpkg)').setInputFiles(join(root, 'color_blobs.jzpkg'));
  await dev.getByRole('button', { name: 'Upload the package' }).click();
  await dev.getByText('acme-vision').waitFor();
  await dev.getByRole('cell', { name: 'Ready' }).waitFor({ timeout: 120000 });
  await dev.getByLabel('Suite', { exact: true }).selectOption('blobs');
  await dev.getByLabel('Package', { exact: true }).selectOption('color_blobs@1.0.0');
  await dev.getByLabel('Configuration (JSON, optional)').fill('{ nope');
  await dev.getByText('Write a JSON object, such as {"tolerance": 30}.').first().waitFor();
  await dev.getByLabel('Configuration (JSON, optional)').fill('{"tolerance": 30}');
  await dev.getByRole('button', { name: 'Evaluate', exact: true }).click();
  await dev.getByRole('heading', { name: /^Evaluation eval_/ }).waitFor();
  await dev.getByText('Passed', { exact: true }).or(dev.getByText('Failed', { exact: true })).or(dev.getByText('Error', { exact: true })).waitFor({ timeout: 180000 });
  await dev.getByText('Passed', { exact: true }).waitFor();
  await dev.getByText(/This suite’s data is hidden from you/).waitFor();
  await dev.getByRole('cell', { name: 'mAP >= 0.5' }).waitFor();
  await dev.getByRole('rowheader', { name: 'AP', exact: true }).waitFor();
  await dev.getByRole('rowheader', { name: 'Latency p99 (ms)' }).waitFor();
  await dev.locator('canvas').first().waitFor();
  assert.equal(await dev.getByText('b0.ppm').count(), 0, 'no sample id shown to a developer');
  assert.equal(await dev.getByRole('table', { name: 'Worst samples' }).count(), 0);
  const url = dev.url();
  const id = url.slice(url.lastIndexOf('/') + 1);
  const report = await dev.evaluate(async (u) => (await fetch(u)).text(), `/api/v1/projects/vision/evaluations/${id}/report`);
  assert.equal(report.includes('b0.ppm'), false);
  await screenshot(dev, 'tests-evaluation-developer-en');

  await owner.goto(url);
  await owner.getByText('Passed', { exact: true }).waitFor();
  assert.equal(await owner.getByText(/This suite’s data is hidden from you/).count(), 0);
  // The full report's files are the data owners' (detection has no per-sample rows).
  const full = await owner.getByRole('link', { name: 'report.json' }).getAttribute('href');
  const files = await owner.evaluate(async (u) => (await fetch(u)).json(), full);
  assert.equal(files.inputs.annotations.sha256.length, 64);
  await screenshot(owner, 'tests-evaluation-owner-en');
  assert.deepEqual([...owner.problems, ...dev.problems], []);
  autotestRoot = root;
});

test('a data owner pre-annotates a labelling task with the uploaded package; the annotator sees and corrects its boxes', async () => {
  assert.ok(autotestRoot, 'runs after the automatic test test, which uploads color_blobs 1.0.0');
  const root = mkdtempSync(join(tmpdir(), 'jz-preannotate-'));
  chmodSync(root, 0o755);
  const paint = join(root, 'paint');
  mkdirSync(paint);
  // Grey pictures with coloured rectangles, which color_blobs finds.
  const inside = (x, y, [x0, y0, w, h]) => x >= x0 && x < x0 + w && y >= y0 && y < y0 + h;
  const picture = (rects) => png(64, 48, (x, y) => rects.find(([, r]) => inside(x, y, r))?.[0] ?? [128, 128, 128]);
  writeFileSync(join(paint, 'a.png'), picture([[[255, 0, 0], [8, 6, 20, 12]], [[0, 255, 0], [36, 20, 16, 16]]]));
  writeFileSync(join(paint, 'b.png'), picture([[[0, 0, 255], [10, 10, 12, 12]]]));
  await server.call('POST', '/api/v1/workspaces/acme/dataset-roots', { path: root });
  await server.call('POST', '/api/v1/projects/vision/datasets', { name: 'paint', path: paint, security_level: 'secret' });
  await server.call('POST', '/api/v1/projects/vision/datasets/paint/versions', { message: 'import' });
  for (const [name, role] of Object.entries({ powner: 'data-owner', pann: 'annotator', prev: 'annotator' })) {
    await server.call('POST', '/api/v1/users', { username: name, password: `${name}-password-1` });
    await server.call('POST', '/api/v1/projects/vision/members', { username: name, role });
  }
  const task = await server.call('POST', '/api/v1/projects/vision/datasets/paint/label-tasks', {
    name: 'paint', spec: { classes: ['car', 'person'] }, job_size: 2, annotators: ['pann'], reviewers: ['prev'],
  });

  const owner = await newPage(browser);
  await signIn(owner, server.base, 'powner', 'powner-password-1');
  await owner.goto(`${server.base}/projects/vision/labelling/${task.id}`);
  const section = owner.getByRole('region', { name: 'Pre-annotation' });
  await section.getByLabel('Algorithm').selectOption('color_blobs 1.0.0');
  await section.getByLabel('Class names').fill('red=car, green person');
  assert.equal(await section.getByRole('button', { name: 'Pre-annotate' }).isDisabled(), true, 'a malformed map is not sent');
  await section.getByLabel('Class names').fill('red=car, green=person');
  await section.getByRole('button', { name: 'Pre-annotate' }).click();
  const runs = section.getByRole('table', { name: 'Pre-annotation runs' });
  await runs.getByText(/2 images given 2 shapes; 0 left to the people who saved them; 0 errors/)
    .or(runs.getByText('failed'))
    .waitFor({ timeout: 180000 });
  const [run] = (await server.call('GET', `/api/v1/projects/vision/label-tasks/${task.id}/pre-annotations`)).items;
  assert.equal(run.state, 'done', run.message);
  assert.deepEqual(run.summary.dropped, { 'not a class of the task': 1 }, 'the blue one has no class');
  await screenshot(owner, 'label-preannotation-owner-en');

  // The annotator sees the model's boxes on a.png, told where they came from, and makes
  // them theirs by saving.
  const ann = await newPage(browser);
  await signIn(ann, server.base, 'pann', 'pann-password-1');
  await ann.goto(`${server.base}/projects/vision/labelling`);
  await ann.getByRole('link', { name: 'Annotate paint, job 1 (2 images)' }).click();
  await ann.getByText('Pre-annotated by model:color_blobs 1.0.0', { exact: false }).waitFor();
  const shapes = ann.getByRole('list', { name: 'Shapes on this image' });
  await shapes.getByText(/^car Box at 8, 6 \(20 × 12\)$/).waitFor();
  await shapes.getByText(/^person Box at 36, 20 \(16 × 16\)$/).waitFor();
  // Opening it keeps the shapes the model's; taking one away makes them the annotator's.
  const job = (await server.call('GET', `/api/v1/projects/vision/label-tasks/${task.id}/jobs`)).items[0];
  const detail = () => server.call('GET', `/api/v1/projects/vision/label-tasks/${task.id}/jobs/${job.id}`);
  await eventually(async () => (await detail()).items[0].width === 64);
  assert.equal((await detail()).items[0].source, 'model');
  await ann.getByRole('button', { name: 'Delete shape 2' }).click();
  await ann.keyboard.press('s');
  await until(ann, () => !document.querySelector('[role="note"]'));
  const images = (await detail()).items;
  assert.deepEqual(images.map((i) => [i.path, i.source, i.shapes.length]), [['a.png', 'human', 1], ['b.png', 'model', 0]]);
  await screenshot(ann, 'label-preannotated-tool-en');
  // (What the refusal below prints in the console is expected.)
  const problems = [...owner.problems, ...ann.problems];
  const refused = await ann.evaluate(async (u) => {
    const w = await (await fetch('/api/v1/auth/whoami')).json();
    return (await fetch(u, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': w.csrf_token }, body: '{"algorithm":"color_blobs","version":"1.0.0"}' })).status;
  }, `/api/v1/projects/vision/label-tasks/${task.id}/pre-annotations`);
  assert.equal(refused, 403, 'an annotator runs no algorithm over the data');
  assert.deepEqual(problems, []);
  rmSync(root, { recursive: true, force: true });
});

test('a project admin lists a tested package in the store and sells it; a customer finds it; a revoked code renews nothing', async () => {
  assert.ok(autotestRoot, 'runs after the automatic test test (before the competition test removes its files), whose evaluated package it lists');
  // The project's publisher key is the one its package was signed with.
  const key = JSON.parse(readFileSync(join(autotestRoot, 'vendor.key'), 'utf8'));
  await server.call('PUT', '/api/v1/projects/vision/store/publisher', { signing_key: key });
  await server.call('POST', '/api/v1/users', { username: 'seller3', password: 'seller3-password-1' });
  await server.call('POST', '/api/v1/projects/vision/members', { username: 'seller3', role: 'project-admin' });
  await server.call('POST', '/api/v1/users', { username: 'buyer3', password: 'buyer3-password-1' });
  await server.call('POST', '/api/v1/users', { username: 'stranger3', password: 'stranger3-password-1' });
  await server.call('POST', '/api/v1/workspaces', { name: 'acme-co' });
  await server.call('POST', '/api/v1/workspaces/acme-co/members', { username: 'buyer3', role: 'workspace-viewer' });

  const seller = await newPage(browser);
  await signIn(seller, server.base, 'seller3', 'seller3-password-1');
  await seller.goto(`${server.base}/projects/vision`);
  await seller.getByRole('link', { name: 'Store', exact: true }).click();
  await seller.getByText(/Key “acme-vision”/).waitFor();
  const form = seller.getByRole('form', { name: 'New listing' });
  await form.getByLabel('Algorithm', { exact: true }).fill('color_blobs');
  await form.getByLabel('Title', { exact: true }).fill('Colour blobs');
  await form.getByLabel('Visible to').selectOption('customers');
  await form.getByLabel('Customer workspaces').fill('acme-co');
  await form.getByLabel('Tags').fill('demo, blobs');
  await form.getByLabel('Price tiers').fill('basic, two');
  await form.getByText('Cannot read “basic, two”').waitFor();
  assert.equal(await form.getByRole('button', { name: 'Save the listing' }).isDisabled(), true);
  await form.getByLabel('Price tiers').fill('basic, 2, 25, 365, 100 CNY/year');
  await form.getByRole('button', { name: 'Save the listing' }).click();
  await seller.getByText('No version listed yet: customers do not see it.').waitFor();
  const listVersion = seller.getByRole('form', { name: 'List a version of color_blobs' });
  await listVersion.getByRole('checkbox').first().check();
  await listVersion.getByRole('button', { name: 'List it' }).click();
  await seller.getByText('Listed: 1.0.0').waitFor();
  assert.equal(await seller.getByRole('alert').count(), 0, await seller.getByRole('alert').allTextContents().then(String));

  // Its page: the report of the suite it passed; sell two seats.
  await seller.getByRole('link', { name: 'Colour blobs' }).click();
  await seller.getByRole('heading', { name: 'Colour blobs' }).waitFor();
  await seller.getByRole('table', { name: 'Reports' }).getByRole('rowheader').first().waitFor();
  await seller.getByLabel('Customer', { exact: true }).fill('Acme Co');
  await seller.getByLabel('Seats').fill('2');
  await seller.getByRole('button', { name: 'Make the activation codes' }).click();
  await seller.getByRole('status').getByText(/^Order ord_/).waitFor();
  const codes = await seller.getByRole('status').locator('code').allTextContents();
  assert.equal(codes.length, 2);
  await screenshot(seller, 'store-listing-en');

  // The customer's workspace finds it; someone else does not.
  const buyer = await newPage(browser);
  await signIn(buyer, server.base, 'buyer3', 'buyer3-password-1');
  await buyer.goto(`${server.base}/store`);
  await buyer.getByRole('button', { name: 'demo' }).click();
  await buyer.getByRole('link', { name: 'Colour blobs' }).waitFor();
  await screenshot(buyer, 'store-front-en');
  assert.equal(await buyer.getByRole('link', { name: 'Store', exact: true }).count(), 0, 'a customer has no project store tab');
  const stranger = await newPage(browser);
  await signIn(stranger, server.base, 'stranger3', 'stranger3-password-1');
  await stranger.goto(`${server.base}/store`);
  await stranger.getByText('No listing you may see matches.').waitFor();
  await stranger.goto(`${server.base}/store/vision/color_blobs`);
  await stranger.getByText('No such listing, or it is not shown to you.').waitFor();

  // A machine activates the first code; the seller sees it, then revokes the code.
  const activate = (code) =>
    fetch(`${server.base}/api/v1/activate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code, fingerprint: 'AAAA-BBBB-CCCC-DDDD' }),
    });
  const first = await activate(codes[0]);
  assert.equal(first.status, 200, await first.clone().text());
  // Its client reports what it analysed (as `jizhan client serve` does); a report sent
  // twice counts once.
  const now = new Date().toISOString();
  const report = {
    code: codes[0],
    fingerprint: 'AAAA-BBBB-CCCC-DDDD',
    licence: (await first.json()).licence_id,
    reports: [{ id: 'r-1', from: now, to: now, frames: 1234, channels: 1, algorithm: 'color_blobs' }],
  };
  for (let i = 0; i < 2; i++) {
    const sent = await fetch(`${server.base}/api/v1/store/usage`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(report),
    });
    assert.equal(sent.status, 200, await sent.text());
  }
  await seller.goto(`${server.base}/projects/vision/store`);
  const row = seller.locator('li', { hasText: codes[0] });
  await row.getByText('1 of 1 seats used').waitFor();
  await row.getByRole('button', { name: 'Machines' }).click();
  await row.getByRole('rowheader', { name: 'AAAA-BBBB-CCCC-DDDD' }).waitFor();
  await row.getByRole('cell', { name: '1,234', exact: true }).waitFor();
  seller.once('dialog', (d) => d.accept('contract ended'));
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByText('Revoked', { exact: true }).waitFor();
  await screenshot(seller, 'store-orders-en');
  const renewal = await activate(codes[0]);
  assert.equal(renewal.status, 403);
  assert.match((await renewal.json()).error.message, /contract ended/);
  assert.deepEqual([...seller.problems, ...buyer.problems], []);
  // The stranger's only trouble: the listing it may not see answered 404.
  assert.deepEqual(stranger.problems, ['Failed to load resource: the server responded with a status of 404 (Not Found)']);
});

test('an organiser runs a competition from the console; a team submits its CSV and reads its signed verdict', async () => {
  const root = autotestRoot;
  assert.ok(root, 'the automatic tests test runs first');
  const bin = process.env.JIZHAN_BIN;
  const env = { ...process.env, JIZHAN_CONFIG_DIR: join(root, 'config') };
  delete env.JIZHAN_BIN;
  // Counting suites on the same images: three boxes each.
  const counts = readFileSync(join(root, 'truth.jsonl'), 'utf8').trim().split('\n').map((l) => ({ image: JSON.parse(l).image, n: 3 }));
  const template =
    'name: n\ntask: counting\npredictions: {id: sample}\nannotations: {id: image}\nvariables:\n' +
    '  - name: n\n    prediction: result.algorithm_data.target_count@num\n    annotation: n@num\n    rule: {type: numeric, abs: 0}\n';
  for (const name of ['cup-public', 'cup-final']) {
    await server.call('POST', '/api/v1/projects/vision/suites', {
      name,
      dataset: 'blobs',
      template,
      annotations: { file: 'n.jsonl', content: counts.map((c) => JSON.stringify(c)).join('\n') + '\n' },
    });
  }
  const owner = await newPage(browser);
  await signIn(owner, server.base, 'owner2', 'owner2-password-1');
  await owner.goto(`${server.base}/projects/vision/tests`);
  await owner.getByRole('heading', { name: 'Competitions' }).waitFor();
  await owner.getByLabel('Competition name').fill('cup');
  await owner.getByLabel('Public split (suite)').selectOption('cup-public');
  await owner.getByLabel('Hidden split (suite)').selectOption('cup-final');
  await owner.getByLabel('Opens').fill('2026-01-01T00:00');
  await owner.getByLabel('Closes').fill('2030-01-01T00:00');
  await owner.getByLabel('CSV columns').fill('n=result.algorithm_data.target_count');
  await owner.getByLabel('Teams').fill('alpha=dev1');
  await owner.getByRole('button', { name: 'Organise the competition' }).click();
  await owner.getByRole('link', { name: 'cup', exact: true }).or(owner.getByRole('alert')).waitFor();
  assert.equal(await owner.getByRole('alert').count(), 0, await owner.getByRole('alert').allTextContents().then(String));

  // The team's CSV, made offline from its package's results.
  execFileSync(bin, ['algo', 'run', '--package', join(root, 'color_blobs.jzpkg'), '--trust', join(root, 'vendor.pub'),
    '--input', join(root, 'blobs'), '--out', join(root, 'cup.jsonl')], { env });
  execFileSync(bin, ['autotest', 'csv', join(root, 'cup.jsonl'), '--column', 'n=result.algorithm_data.target_count',
    '--out', join(root, 'alpha.csv')], { env });
  const dev = await newPage(browser);
  await signIn(dev, server.base, 'dev1', 'dev1-password-123');
  await dev.goto(`${server.base}/projects/vision/tests`);
  await dev.getByRole('link', { name: 'cup', exact: true }).click();
  await dev.getByRole('heading', { name: 'Competition cup' }).waitFor();
  await dev.getByText('alpha', { exact: true }).first().waitFor();
  for (const split of ['Public', 'Hidden']) {
    await dev.getByLabel('Split', { exact: true }).selectOption({ label: split });
    await dev.getByLabel('Made by package').selectOption('color_blobs@1.0.0');
    await dev.getByLabel('Results CSV').setInputFiles(join(root, 'alpha.csv'));
    await dev.getByRole('button', { name: 'Submit', exact: true }).click();
    await dev.getByRole('cell', { name: split, exact: true }).or(dev.getByRole('alert')).waitFor();
    assert.equal(await dev.getByRole('alert').count(), 0, await dev.getByRole('alert').allTextContents().then(String));
  }
  await dev.getByRole('table', { name: 'Public board' }).getByRole('cell', { name: 'alpha' }).waitFor();
  await dev.getByRole('cell', { name: 'After the close' }).waitFor();
  await dev.getByText(/Shown when the competition closes/).waitFor();
  await screenshot(dev, 'competition-open-en');

  // The organiser ends it; the platform runs alpha's package again and signs the verdict.
  await server.call('PATCH', '/api/v1/projects/vision/competitions/cup', { closes_at: new Date().toISOString() });
  const final = dev.getByRole('table', { name: 'Final board (hidden split)' });
  await final.getByRole('cell', { name: 'Identical' }).waitFor({ timeout: 120000 });
  await dev.getByRole('heading', { name: 'Signed verdicts' }).waitFor();
  const href = await dev.getByRole('link', { name: 'Save' }).first().getAttribute('href');
  const doc = JSON.parse(decodeURIComponent(href.slice(href.indexOf(',') + 1)));
  writeFileSync(join(root, 'alpha-verdict.json'), JSON.stringify(doc));
  const key = await fetch(`${server.base}/api/v1/autotest/verdict-key`, { headers: { Authorization: `Bearer ${server.token}` } });
  writeFileSync(join(root, 'verdict-key.pub'), await key.text());
  const verified = execFileSync(bin, ['autotest', 'verify-verdict', join(root, 'alpha-verdict.json'), '--key', join(root, 'verdict-key.pub')], { env }).toString();
  assert.match(verified, /team alpha, color_blobs 1\.0\.0 in competition cup: identical/);
  await screenshot(dev, 'competition-verified-en');
  assert.deepEqual([...owner.problems, ...dev.problems], []);
  rmSync(root, { recursive: true, force: true });
});

test('every page, in both languages: no serious or critical axe-core violation, a screenshot', async () => {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  const found = {};
  const jobs = await server.call('GET', '/api/v1/projects/vision/jobs?kind=train');
  const pages = {
    overview: '/',
    workspaces: '/workspaces',
    workspace: '/workspaces/vision-team',
    'workspace-audit': '/workspaces/vision-team/audit',
    'workspace-alerts': '/workspaces/vision-team/alerts',
    notifications: '/notifications',
    tokens: '/tokens',
    users: '/users',
    account: '/account',
    roles: '/roles',
    audit: '/audit',
    jobs: '/projects/vision',
    'submit-job': '/projects/vision/jobs/new',
    job: `/projects/vision/jobs/${jobs.items[0].id}`,
    devenvs: '/projects/vision/devenvs',
    datasets: '/projects/vision/datasets',
    dataset: '/projects/vision/datasets/street',
    'dataset-curation': '/projects/vision/datasets/scenes',
    labelling: '/projects/vision/labelling',
    code: '/projects/vision/code',
    reviews: '/projects/vision/reviews',
    members: '/projects/detector/members',
    quota: '/projects/detector/quota',
    events: '/projects/detector/events',
    scheduling: '/scheduling',
    'what-if': '/scheduling/what-if',
    clusters: '/clusters',
    monitoring: '/monitoring',
    usage: '/usage',
    alerts: '/projects/detector/alerts',
    'platform-alerts': '/alerting',
    runs: '/projects/vision/runs?compare=baseline',
    'runs-home': '/runs',
    run: '/projects/vision/runs/baseline',
    tests: '/projects/vision/tests',
    'tests-home': '/tests',
    store: '/store',
    'store-listing': '/store/vision/color_blobs',
    'project-store': '/projects/vision/store',
    planned: '/later/store',
    'not-found': '/no-such-page',
  };
  const evaluations = await server.call('GET', '/api/v1/projects/vision/evaluations');
  if (evaluations.items.length > 0) pages.evaluation = `/projects/vision/tests/${evaluations.items[0].id}`;
  const labelTasks = await server.call('GET', '/api/v1/projects/vision/label-tasks');
  if (labelTasks.items.length > 0) {
    const task = labelTasks.items[0];
    pages['label-task'] = `/projects/vision/labelling/${task.id}`;
    const labelJobs = await server.call('GET', `/api/v1/projects/vision/label-tasks/${task.id}/jobs`);
    pages['label-tool'] = `/projects/vision/labelling/${task.id}/jobs/${labelJobs.items[0].id}`;
  }
  const competitions = await server.call('GET', '/api/v1/projects/vision/competitions');
  if (competitions.items.length > 0) pages.competition = `/projects/vision/tests/competitions/${competitions.items[0].name}`;
  for (const lang of ['en', 'zh-CN']) {
    await page.goto(`${server.base}/login`);
    await page.evaluate((l) => localStorage.setItem('jz.lang', l), lang);
    await page.reload();
    await page.getByRole('heading').first().waitFor();
    found[`login ${lang}`] = await axe(page);
    await screenshot(page, `page-login-${lang}`);
    await page.locator('#login-username').fill('admin');
    await page.locator('#login-password').fill(adminPassword);
    await page.locator('button[type=submit]').click();
    await page.getByRole('navigation', { name: lang === 'en' ? 'Main' : '主导航' }).waitFor();
    for (const [name, path] of Object.entries(pages)) {
      await page.goto(server.base + path);
      await page.getByRole('heading').first().waitFor();
      // Pages that follow a live stream never go network-idle: give them a moment instead.
      await page.waitForLoadState('networkidle', { timeout: 3000 }).catch(() => {});
      await page.locator('[aria-busy="true"]').first().waitFor({ state: 'detached' });
      found[`${path} ${lang}`] = await axe(page);
      await screenshot(page, `page-${name}-${lang}`);
      // The smallest screen supported, 1280x720: nothing runs off the side of the page.
      await page.setViewportSize({ width: 1280, height: 720 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) found[`${path} ${lang} at 1280x720`] = [`${overflow} px wider than the window`];
      await page.setViewportSize({ width: 1440, height: 900 });
    }
    if (lang === 'en') {
      // Signed in, the login page sends to the overview; sign out for the Chinese login.
      await page.evaluate(() => fetch('/api/v1/auth/whoami').then((r) => r.json())).then(async (w) => {
        await page.evaluate(
          (csrf) => fetch('/api/v1/auth/logout', { method: 'POST', headers: { 'X-CSRF-Token': csrf } }),
          w.csrf_token,
        );
      });
    }
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
