// The console's performance in Debian's Chromium against a real `jizhan server` (issue 19):
//   1. JavaScript the sign-in page loads (gzipped, as sent), against all of the console's;
//   2. a project with 10,000 jobs: time until the job list's first rows show, and frame
//      times while scrolling through all of them; anchor: the same 10,000 jobs as a plain
//      table (every row in the page), built and scrolled in the same page;
//   3. the log viewer following a job that writes 5,000 lines a second: the longest
//      main-thread task and the lines shown per second; anchor: a bare EventSource on the
//      same stream that only counts lines.
// Prints Markdown. Run by bench/web/run, which sets JIZHAN_BIN and JZ_CONSOLE_OUT.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { signIn, startBrowser, startServer, adminPassword } from '../../web/e2e/harness.mjs';

const JOBS = Number(process.env.JZ_BENCH_JOBS ?? 10000);
const LOG_RATE = 5000; // lines per second the job writes
const out = [];
const say = (line = '') => {
  out.push(line);
  console.log(line);
};
const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const server = await startServer(['--set', 'store.sqlite_synchronous=normal']);
const browser = await startBrowser();
try {
  // ---- 1. the sign-in page's JavaScript ----
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const login = await ctx.newPage();
  const scripts = [];
  login.on('requestfinished', async (req) => {
    if (req.resourceType() === 'script') scripts.push(req);
  });
  await login.goto(`${server.base}/login`, { waitUntil: 'networkidle' });
  let loginBytes = 0;
  for (const req of scripts) loginBytes += (await req.sizes()).responseBodySize;
  let allBytes = 0;
  const assets = join(process.env.JZ_CONSOLE_OUT, 'assets');
  for (const f of readdirSync(assets)) if (f.endsWith('.js.gz')) allBytes += statSync(join(assets, f)).size;
  await ctx.close();

  // ---- 2. 10,000 jobs ----
  await server.call('POST', '/api/v1/workspaces', { name: 'bench' });
  await server.call('POST', '/api/v1/workspaces/bench/projects', { name: 'many' });
  await server.call('PUT', '/api/v1/projects/many/quota', { concurrent_jobs: 0 }); // all stay queued
  const t0 = Date.now();
  let next = 0;
  const submit = async () => {
    while (next < JOBS) {
      const i = next++;
      await server.call('POST', '/api/v1/projects/many/jobs', {
        name: `job-${String(i).padStart(5, '0')}`,
        command: ['train', '--epochs', String(i % 50)],
        resources: { cpu: 0.1, memory_mib: 64 },
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, submit));
  const submitS = (Date.now() - t0) / 1000;

  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await signIn(page, server.base, 'admin', adminPassword);
  const firstRows = [];
  for (let i = 0; i < 5; i++) {
    await page.goto(`${server.base}/`);
    await page.getByRole('heading').first().waitFor();
    const start = Date.now();
    await page.goto(`${server.base}/projects/many`);
    await page.locator('.virtual-list tbody tr:not(.spacer) a').first().waitFor();
    firstRows.push(Date.now() - start);
  }
  // Read every page of the list by scrolling to its end until all are loaded.
  const loadStart = Date.now();
  for (;;) {
    const status = await page.locator('.list-status').textContent();
    if (!status.includes('scroll for more')) break;
    await page.locator('.virtual-list').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.waitForTimeout(50);
  }
  const loadAllMs = Date.now() - loadStart;
  const rendered = await page.locator('.virtual-list tbody tr:not(.spacer)').count();

  // Scrolls a box down by `px` a frame for `frames` animation frames (from the top, or from
  // the bottom up when the list is shorter); frame times and long tasks.
  const scrollFrames = (selector, frames, px) =>
    page.evaluate(
      ({ selector, frames, px }) =>
        new Promise((resolve) => {
          const el = document.querySelector(selector);
          const tasks = [];
          const obs = new PerformanceObserver((l) => tasks.push(...l.getEntries().map((e) => e.duration)));
          obs.observe({ type: 'longtask' });
          el.scrollTop = 0;
          const step = Math.min(px, (el.scrollHeight - el.clientHeight) / frames);
          const deltas = [];
          let last = performance.now();
          let n = 0;
          const tick = (now) => {
            deltas.push(now - last);
            last = now;
            if (++n > frames) {
              obs.disconnect();
              resolve({ deltas: deltas.slice(1), tasks });
              return;
            }
            el.scrollTop = n * step;
            requestAnimationFrame(tick);
          };
          requestAnimationFrame(tick);
        }),
      { selector, frames, px },
    );
  const summarise = ({ deltas, tasks }) => {
    const s = [...deltas].sort((a, b) => a - b);
    return {
      p50: s[Math.floor(s.length * 0.5)],
      p99: s[Math.floor(s.length * 0.99)],
      max: s[s.length - 1],
      dropped: deltas.filter((d) => d > 1.5 * (1000 / 60)).length,
      frames: deltas.length,
      longest: tasks.length ? Math.max(...tasks) : 0,
    };
  };
  // A wheel's pace (3,000 px/s: about 70 rows a second) and a fling (20,000 px/s).
  const virtualScroll = summarise(await scrollFrames('.virtual-list', 300, 50));
  const virtualFling = summarise(await scrollFrames('.virtual-list', 300, 333));

  // Anchor: the same jobs as a plain table, every row in the page, in a box of the same size.
  const plain = await page.evaluate(async (count) => {
    const jobs = [];
    let token = '';
    while (jobs.length < count) {
      const r = await fetch(`/api/v1/projects/many/jobs?page_size=1000${token ? `&page_token=${token}` : ''}`);
      const body = await r.json();
      jobs.push(...body.items);
      if (!body.next_page_token) break;
      token = encodeURIComponent(body.next_page_token);
    }
    const box = document.querySelector('.virtual-list');
    const start = performance.now();
    const div = document.createElement('div');
    div.className = 'virtual-list plain-anchor';
    const table = document.createElement('table');
    const body = document.createElement('tbody');
    for (const j of jobs) {
      const tr = document.createElement('tr');
      for (const text of [j.name, j.state, j.message ?? '', j.kind, j.user, j.created_at]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    table.appendChild(body);
    div.appendChild(table);
    box.replaceWith(div);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return { ms: performance.now() - start, rows: jobs.length };
  }, JOBS);
  const plainScroll = summarise(await scrollFrames('.plain-anchor', 300, 50));
  const plainFling = summarise(await scrollFrames('.plain-anchor', 300, 333));
  await context.close();

  // ---- 3. the log viewer at 5,000 lines a second ----
  await server.call('POST', '/api/v1/workspaces/bench/projects', { name: 'logs' });
  const writer =
    'import sys, time\n' +
    `rate, seconds, batch = ${LOG_RATE}, 40, 50\n` +
    'start = time.monotonic()\n' +
    'for n in range(0, rate * seconds, batch):\n' +
    '    wait = start + n / rate - time.monotonic()\n' +
    '    if wait > 0: time.sleep(wait)\n' +
    "    sys.stdout.write(''.join(f'line {i} of a fast log: epoch {i // 1000} loss 0.{i % 997:03d}\\n' for i in range(n, n + batch)))\n" +
    '    sys.stdout.flush()\n';
  const job = await server.call('POST', '/api/v1/projects/logs/jobs', {
    name: 'fast-log',
    command: ['python3', '-c', writer],
    resources: { cpu: 0.5, memory_mib: 256 },
  });
  for (;;) {
    const j = await server.call('GET', `/api/v1/projects/logs/jobs/${job.id}`);
    if (j.state === 'running') break;
    if (!['queued', 'admitted', 'starting'].includes(j.state)) throw new Error(`the log job is ${j.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1000)); // let it reach its pace
  const logContext = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const logPage = await logContext.newPage();
  await signIn(logPage, server.base, 'admin', adminPassword);
  await logPage.goto(`${server.base}/projects/logs/jobs/${job.id}`);
  await logPage.locator('.live').waitFor({ timeout: 30000 });
  const viewer = await logPage.evaluate(
    () =>
      new Promise((resolve) => {
        const tasks = [];
        const obs = new PerformanceObserver((l) => tasks.push(...l.getEntries().map((e) => e.duration)));
        obs.observe({ type: 'longtask' });
        const pre = document.querySelector('pre.log');
        const last = () => Number((pre.textContent.match(/line (\d+) of a fast log[^\n]*$/) ?? [0, -1])[1]);
        const first = last();
        const t0 = performance.now();
        setTimeout(() => {
          obs.disconnect();
          resolve({ lines: last() - first, seconds: (performance.now() - t0) / 1000, tasks });
        }, 10000);
      }),
  );
  // Anchor: the same stream, counted by a bare EventSource in a page that draws nothing.
  const anchor = await logPage.evaluate(
    (path) =>
      new Promise((resolve) => {
        const tasks = [];
        const obs = new PerformanceObserver((l) => tasks.push(...l.getEntries().map((e) => e.duration)));
        obs.observe({ type: 'longtask' });
        document.body.replaceChildren();
        let lines = 0;
        let t0 = 0;
        let source = null;
        fetch(`${path}?format=json&tail=1`)
          .then((r) => r.json())
          .then((page) => {
            source = new EventSource(`${path}?follow=true&from=${page.next_seq}`);
            source.addEventListener('line', () => {
              if (!t0) t0 = performance.now();
              lines++;
            });
          });
        setTimeout(() => {
          source?.close();
          obs.disconnect();
          resolve({ lines, seconds: (performance.now() - t0) / 1000, tasks });
        }, 10000);
      }),
    `/api/v1/projects/logs/jobs/${job.id}/logs`,
  );
  await logContext.close();
  await server.call('POST', `/api/v1/projects/logs/jobs/${job.id}/cancel`, {});

  // ---- report ----
  const cpu = (await import('node:os')).cpus()[0]?.model ?? 'unknown CPU';
  say(`## Console in Chromium (${new Date().toISOString().slice(0, 10)}, ${cpu}, ${(await import('node:os')).cpus().length} cores)`);
  say();
  say('| measure | console | anchor | ratio | target |');
  say('|---|---|---|---|---|');
  say(
    `| sign-in page JavaScript, gzipped | ${fmt(loginBytes / 1024, 1)} KB | all of the console's: ${fmt(allBytes / 1024, 1)} KB | ${fmt(loginBytes / allBytes, 2)} | <= 250 KB |`,
  );
  say(
    `| ${fmt(JOBS)} jobs: navigation to first rows, median of 5 | ${fmt(median(firstRows))} ms | plain table of all rows, render only: ${fmt(plain.ms)} ms | ${fmt(median(firstRows) / plain.ms, 2)} | < 1,000 ms |`,
  );
  for (const [pace, v, p] of [
    ['3,000 px/s', virtualScroll, plainScroll],
    ['20,000 px/s', virtualFling, plainFling],
  ]) {
    say(
      `| ${fmt(JOBS)} jobs, scrolling at ${pace}: frame p50 / p99 / max | ${fmt(v.p50, 1)} / ${fmt(v.p99, 1)} / ${fmt(v.max, 1)} ms | ${fmt(p.p50, 1)} / ${fmt(p.p99, 1)} / ${fmt(p.max, 1)} ms | ${fmt(v.p99 / p.p99, 2)} (p99) | 16.7 ms frames |`,
    );
    say(`| ${fmt(JOBS)} jobs, scrolling at ${pace}: frames over 25 ms, of ${v.frames} | ${v.dropped} | ${p.dropped} | - | 0 |`);
    say(`| ${fmt(JOBS)} jobs, scrolling at ${pace}: longest task | ${fmt(v.longest)} ms | ${fmt(p.longest)} ms | - | - |`);
  }
  const viewerLongest = viewer.tasks.length ? Math.max(...viewer.tasks) : 0;
  const anchorLongest = anchor.tasks.length ? Math.max(...anchor.tasks) : 0;
  say(
    `| log at ${fmt(LOG_RATE)} lines/s: lines shown per second | ${fmt(viewer.lines / viewer.seconds)} | counted by a bare EventSource: ${fmt(anchor.lines / anchor.seconds)} | ${fmt(viewer.lines / viewer.seconds / (anchor.lines / anchor.seconds), 2)} | follows the log |`,
  );
  say(
    `| log at ${fmt(LOG_RATE)} lines/s: longest main-thread task (tasks over 50 ms) | ${fmt(viewerLongest)} ms (${viewer.tasks.length}) | ${fmt(anchorLongest)} ms (${anchor.tasks.length}) | - | < 100 ms |`,
  );
  say();
  say(
    `Setup: ${fmt(JOBS)} jobs submitted in ${fmt(submitS, 1)} s (16 clients, store.sqlite_synchronous=normal); ` +
      `all ${fmt(JOBS)} loaded by scrolling in ${fmt(loadAllMs)} ms with ${rendered} rows in the page; ` +
      `the plain table held ${fmt(plain.rows)} rows.`,
  );
} finally {
  await browser.close();
  await server.stop();
}
