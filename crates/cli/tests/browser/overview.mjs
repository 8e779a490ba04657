// Drives the overview, the rates and the live tail's filters in headless Chromium; run by
// crates/cli/tests/browser.rs (the_overview_shows_counts_rates_and_what_needs_attention).
//
// The connector runs a healthy asset `line-1` (dataset `readings`, event `alerts/threshold`,
// one event every 250 ms) on device `plant`, and a failing asset `locked-line` on device
// `locked`, whose password the server refuses.
//
// Environment: BASE_URL (the connector's HTTP listener), API_TOKEN (its bearer token),
// CHROMIUM (its executable), SCREENSHOTS (a directory for the PNGs). Exits non-zero with a
// message on any failure.

import { chromium } from 'playwright-core';
import path from 'node:path';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('BASE_URL');
const shots = env('SCREENSHOTS');
const step = (text) => console.log(`- ${text}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
const errors = [];
page.on('pageerror', (error) => errors.push(error.message));
page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
page.setDefaultTimeout(30000);

/** Waits until `check()` answers true, or fails with `what`. */
async function until(what, check, timeout = 60000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await page.waitForTimeout(500);
  }
}
const count = (kind, state) => page.locator(`#overview-counts [data-kind="${kind}"] li[data-state="${state}"] .n`).textContent();

try {
  step('the landing page is the overview, once the token is given');
  await page.goto(`${base}/`);
  await page.locator('#token-dialog[open]').waitFor();
  await page.fill('#token-input', env('API_TOKEN'));
  await page.click('#token-submit');
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  if (!(await page.locator('#nav-overview').getAttribute('class') || '').includes('active')) throw new Error('the overview is not the active page');

  step('the counts: two assets, one Available and one Unavailable; the broker is connected');
  await until('the assets by health', async () => (await count('assets', 'Available')) === '1' && (await count('assets', 'Unavailable')) === '1');
  for (const kind of ['devices', 'endpoints', 'assets']) {
    const total = await page.locator(`#overview-counts [data-kind="${kind}"] .total`).textContent();
    if (total !== '2') throw new Error(`${kind}: total ${total}, expected 2`);
  }
  const operations = await page.locator('#overview-counts [data-kind="operations"] .total').textContent();
  if (operations !== '3') throw new Error(`operations: total ${operations}, expected 3`);
  await until('two healthy operations', async () => (await count('operations', 'Available')) === '2');
  await page.locator('#overview-counts [data-kind="endpoints"] .errors', { hasText: '1 with a configuration error' }).waitFor();
  await page.locator('#overview-broker .badge', { hasText: 'connected' }).waitFor();

  step('needs attention: the locked endpoint with its error and the secrets to check');
  const endpoint = page.locator('#attention li[data-kind="endpoint"][data-owner="locked"][data-part="sse"]');
  await endpoint.waitFor();
  await endpoint.locator('.badge', { hasText: 'configuration error' }).waitFor();
  await endpoint.locator('code', { hasText: '401' }).waitFor();
  const fix = await endpoint.locator('.fix').textContent();
  if (!fix.includes('check secret locked-creds/username and locked-creds/password')) throw new Error(`fix: ${fix}`);
  const message = await endpoint.locator('.message').textContent();
  if (!message.includes('401')) throw new Error(`message: ${message}`);
  await page.locator('#attention li[data-kind="dataset"][data-owner="locked-line"][data-part="dataset/d"]').waitFor();
  if (await page.locator('#attention li[data-owner="line-1"]').count()) throw new Error('the healthy asset is listed as needing attention');
  if (await page.locator('#attention li[data-owner="plant"]').count()) throw new Error('the healthy device is listed as needing attention');

  step('the chart moves: new samples, and messages out above zero');
  const chart = page.locator('#rates-chart svg.chart');
  await chart.waitFor();
  const label = await chart.getAttribute('aria-label');
  if (!/Events in/.test(label) || !/Messages out/.test(label)) throw new Error(`chart label: ${label}`);
  const firstEnd = Number(await chart.getAttribute('data-end'));
  await until('a sample with messages out', async () => {
    const points = Number(await page.locator('#rates-chart svg.chart').getAttribute('data-points'));
    const now = await page.locator('#rates-now').textContent();
    return points >= 2 && !/Messages out 0\/s/.test(now) && !/Messages out —/.test(now);
  });
  const laterEnd = Number(await page.locator('#rates-chart svg.chart').getAttribute('data-end'));
  if (!(laterEnd > firstEnd)) throw new Error(`the chart did not move: ${firstEnd} → ${laterEnd}`);
  const line = await page.locator('#rates-chart polyline.line.out').getAttribute('points');
  if (!line || line.split(' ').length < 2) throw new Error(`the out line has too few points: ${line}`);
  await page.screenshot({ path: path.join(shots, 'overview.png'), fullPage: true });

  step('the attention item links to its page');
  await page.locator('#attention li[data-kind="dataset"][data-owner="locked-line"] a').click();
  await page.waitForURL(/#\/assets\/locked-line$/);
  await page.locator('#health tbody tr[data-part="dataset/d"] .badge.error').waitFor();

  step('the assets list shows a sparkline per asset');
  await page.click('#nav-assets');
  const assetRate = page.locator('tr[data-asset="line-1"] td.rate svg.sparkline');
  await assetRate.waitFor();
  await until('points in the asset sparkline', async () => Number(await page.locator('tr[data-asset="line-1"] td.rate svg.sparkline').getAttribute('data-points')) >= 1);
  const sparkLabel = await page.locator('tr[data-asset="line-1"] td.rate svg.sparkline').getAttribute('aria-label');
  if (!/line-1: messages per second over the last/.test(sparkLabel)) throw new Error(`sparkline label: ${sparkLabel}`);
  await page.locator('tr[data-asset="line-1"] td.last-message', { hasText: 'ago' }).waitFor();

  step('the asset page shows a sparkline per dataset and event');
  await page.locator('tr[data-asset="line-1"] a', { hasText: 'line-1' }).click();
  await page.waitForURL(/#\/assets\/line-1$/);
  for (const part of ['dataset/readings', 'event/alerts/threshold']) {
    await until(`a sparkline for ${part}`, async () => Number(await page.locator(`#health tbody tr[data-part="${part}"] svg.sparkline`).getAttribute('data-points').catch(() => '0')) >= 1);
  }

  step('the live tail filters by part and by text');
  await page.locator('#tail tbody tr').nth(14).waitFor({ timeout: 60000 });
  await page.selectOption('#tail-part', 'eventGroups/alerts/events/threshold');
  const onlyEvents = await page.locator('#tail tbody tr td:nth-child(2)').allTextContents();
  if (!onlyEvents.length || onlyEvents.some((p) => p !== 'eventGroups/alerts/events/threshold')) throw new Error(`part filter: ${onlyEvents}`);
  await page.selectOption('#tail-part', '');
  await page.fill('#tail-filter', '"temperature": 2');
  const payloads = await page.locator('#tail tbody tr td.payload').allTextContents();
  if (!payloads.length || payloads.some((p) => !p.includes('"temperature": 2'))) throw new Error(`text filter: ${payloads}`);
  const all = await page.locator('#tail tbody tr').count();
  await page.fill('#tail-filter', '');
  if (!(await page.locator('#tail tbody tr').count() > all)) throw new Error('clearing the text filter did not bring the other messages back');

  step('pause keeps the buffer filling; resume shows what came');
  await page.click('#tail-toggle');
  await page.locator('#tail-state', { hasText: 'paused' }).waitFor();
  const newestPaused = await page.locator('#tail tbody tr').first().getAttribute('data-id');
  await page.locator('#tail-waiting', { hasText: 'new while paused' }).waitFor();
  await page.waitForTimeout(1200);
  if (await page.locator('#tail tbody tr').first().getAttribute('data-id') !== newestPaused) throw new Error('the view moved while paused');
  await page.screenshot({ path: path.join(shots, 'asset-rates.png'), fullPage: true });
  await page.click('#tail-toggle');
  await page.locator('#tail-state', { hasText: 'live' }).waitFor();
  const newestResumed = Number(await page.locator('#tail tbody tr').first().getAttribute('data-id'));
  if (!(newestResumed > Number(newestPaused))) throw new Error(`resume did not show the buffered messages: ${newestPaused} → ${newestResumed}`);

  step('dropped messages are counted');
  const tail = '**/api/v1/assets/line-1/tail';
  await page.route(tail, (route) => route.fulfill({
    status: 200,
    contentType: 'text/event-stream',
    body: 'event: lagged\ndata: {"skipped":7}\n\n',
  }));
  await page.reload();
  await page.locator('#tail-lag.lagging', { hasText: 'dropped' }).waitFor();
  const dropped = Number((await page.locator('#tail-lag').textContent()).split(' ')[0]);
  if (!(dropped >= 7 && dropped % 7 === 0)) throw new Error(`dropped: ${dropped}`);
  await page.unroute(tail);

  const relevant = errors.filter((e) => !/status of (401|404)/.test(e));
  if (relevant.length) throw new Error(`errors in the page: ${relevant.join('\n')}`);
  step('done');
} catch (error) {
  await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => {});
  console.error(error);
  if (errors.length) console.error(`errors in the page:\n${errors.join('\n')}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
