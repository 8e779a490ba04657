// Drives the web UI in headless Chromium; run by crates/cli/tests/browser.rs.
//
// Environment: BASE_URL (the connector's HTTP listener), API_TOKEN (its bearer token),
// SSE_URL (the SSE server's address), REGISTRY (the connector's registry directory, where
// the transform's graph and module are put; SSE_CONNECTOR_TEST_GUEST: the module, else the
// committed test module),
// SSE_USERNAME / SSE_PASSWORD (what the server requires), CHROMIUM (its executable),
// SCREENSHOTS (a directory for the PNGs). Exits non-zero with a message on any failure.

import { chromium } from 'playwright-core';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('BASE_URL');
const sseUrl = env('SSE_URL');
const shots = env('SCREENSHOTS');
const step = (text) => console.log(`- ${text}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const page = await browser.newPage({ viewport: { width: 1366, height: 860 } });
const errors = [];
page.on('pageerror', (error) => errors.push(error.message));
page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
// Before the token is entered the API answers 401; once it is, no request may go without it.
const refusedWithToken = [];
page.on('response', (response) => {
  if (response.status() === 401 && response.request().headers().authorization) {
    refusedWithToken.push(response.url());
  }
});
page.setDefaultTimeout(20000);

try {
  step('the page asks for the API token');
  await page.goto(`${base}/#/devices`);
  await page.locator('#token-dialog[open]').waitFor();
  await page.fill('#token-input', env('API_TOKEN'));
  await page.click('#token-submit');

  step('the devices page opens empty');
  await page.getByRole('heading', { name: 'Devices' }).waitFor();
  await page.getByText('No devices yet').waitFor();

  step('a device with a username/password endpoint, first with an invalid address');
  await page.click('#new-device');
  await page.fill('#device-name', 'weather-station');
  await page.fill('.ep-address', 'ftp://weather.example/stream');
  await page.check('input.ep-auth[value="UsernamePassword"]');
  await page.fill('.ep-user-value', env('SSE_USERNAME'));
  await page.fill('.ep-pass-value', env('SSE_PASSWORD'));
  if (await page.inputValue('.ep-pass-secret') !== 'weather-station-creds/password') {
    throw new Error('the password secret name was not proposed');
  }
  await page.getByRole('button', { name: 'Add property' }).first().click();
  await page.fill('.kv-key', 'site');
  await page.fill('.kv-value', 'plant-1');
  await page.click('#to-review');
  await page.locator('#review').getByText('weather-station-creds/password (value hidden)').waitFor();
  await page.click('#save');

  step('the invalid address is flagged next to its field');
  const addressField = page.locator('.field[data-path="spec.endpoints.inbound.sse.address"]');
  await addressField.locator('.field-error').waitFor();
  const message = await addressField.locator('.field-error').textContent();
  if (!/http/i.test(message)) throw new Error(`unexpected error text: ${message}`);
  await page.locator('#problems').getByText('spec.endpoints.inbound.sse.address').waitFor();
  await page.screenshot({ path: path.join(shots, 'device-error.png'), fullPage: true });

  step('fixed, the device is created');
  await page.fill('.ep-address', sseUrl);
  await page.click('#to-review');
  await page.click('#save');
  await page.waitForURL(/#\/devices$/);
  await page.locator('tr[data-device="weather-station"]').waitFor();

  step('an asset with a dataset and an event group');
  await page.click('#nav-assets');
  await page.click('#new-asset');
  await page.fill('#asset-name', 'weather');
  const selected = await page.inputValue('#asset-endpoint');
  if (!selected.startsWith('weather-station')) throw new Error(`endpoint picker: ${selected}`);
  await page.click('#add-dataset');
  const dataset = page.locator('fieldset.dataset').first();
  await dataset.locator('.ds-name').fill('weatherdata');
  await dataset.locator('.ds-source').fill('/api/weather');
  await dataset.locator('.dest-target').selectOption('Mqtt');
  await dataset.locator('.dest-topic').fill('plant/weather');
  await page.click('#add-event-group');
  const group = page.locator('fieldset.event-group').first();
  await group.locator('.eg-name').fill('alerts');
  await group.locator('.eg-source').fill('/events');
  await group.locator('.add-event').click();
  const event = group.locator('fieldset.event').first();
  await event.locator('.ev-name').fill('threshold');
  await event.locator('.ev-source').fill('threshold');
  await event.locator('.dest-target').selectOption('Mqtt');
  await event.locator('.dest-topic').fill('plant/alerts');
  await page.screenshot({ path: path.join(shots, 'asset-form.png'), fullPage: true });
  await page.click('#to-review');
  await page.locator('#review').getByText('Dataset weatherdata').waitFor();
  await page.click('#save');

  step('the asset page shows events arriving in the live tail');
  await page.waitForURL(/#\/assets\/weather$/);
  await page.locator('#tail-state').getByText('live').waitFor();
  await page.locator('#tail tbody tr').nth(5).waitFor({ timeout: 60000 });
  const parts = await page.locator('#tail tbody tr td:nth-child(2)').allTextContents();
  if (!parts.some((p) => p.includes('weatherdata'))) throw new Error(`no dataset message in the tail: ${parts}`);
  if (!parts.some((p) => p.includes('threshold'))) throw new Error(`no event message in the tail: ${parts}`);
  const payloads = await page.locator('#tail tbody td.payload').allTextContents();
  if (!payloads.some((p) => p.includes('"temperature"'))) throw new Error(`payloads: ${payloads}`);
  await page.locator('#health tbody tr[data-part="dataset/weatherdata"] .badge.Available').waitFor({ timeout: 30000 });

  step('the schemas inferred for its parts appear, with their content');
  await page.locator('#schemas tbody tr').first().waitFor({ timeout: 60000 });
  await page.locator('#schemas button', { hasText: 'Show' }).first().click();
  await page.locator('#schemas pre', { hasText: '"temperature"' }).first().waitFor();
  await page.screenshot({ path: path.join(shots, 'asset-page.png'), fullPage: true });

  step('the live tail pauses and resumes');
  await page.click('#tail-toggle');
  await page.locator('#tail-state', { hasText: 'paused' }).waitFor();
  await page.click('#tail-toggle');
  await page.locator('#tail-state', { hasText: 'live' }).waitFor();

  step('an edit of the asset takes effect: the dataset goes to another topic');
  await page.getByRole('link', { name: 'Edit' }).click();
  const edited = page.locator('fieldset.dataset').first();
  await edited.locator('.dest-topic').waitFor();
  if (await edited.locator('.ds-name').inputValue() !== 'weatherdata') throw new Error('the form did not load the asset');
  await edited.locator('.dest-topic').fill('plant/weather-v2');
  await page.click('#to-review');
  await page.click('#save');
  await page.waitForURL(/#\/assets\/weather$/);
  await page.locator('#tail td', { hasText: 'plant/weather-v2' }).first().waitFor({ timeout: 60000 });

  step('a transform chosen in the form is saved with the dataset and rewrites its events');
  const registry = env('REGISTRY');
  mkdirSync(path.join(registry, 'graphs'), { recursive: true });
  mkdirSync(path.join(registry, 'modules'), { recursive: true });
  copyFileSync(process.env.SSE_CONNECTOR_TEST_GUEST || fileURLToPath(new URL('../../../transform/tests/guest.wasm', import.meta.url)),
    path.join(registry, 'modules/guest-1.0.0.wasm'));
  writeFileSync(path.join(registry, 'graphs/rewrite.yaml'), [
    'moduleConfigurations:',
    '  - name: rewrite',
    '    parameters:',
    '      mode: { name: mode, required: true }',
    'operations:',
    '  - { operationType: "source", name: "source" }',
    '  - { operationType: "map", name: "rewrite", module: "guest:1.0.0" }',
    '  - { operationType: "sink", name: "sink" }',
    'connections:',
    '  - { from: { name: "source" }, to: { name: "rewrite" } }',
    '  - { from: { name: "rewrite" }, to: { name: "sink" } }',
    ''].join('\n'));
  writeFileSync(path.join(registry, 'graphs/cycle.yaml'), [
    'operations:',
    '  - { operationType: "source", name: "source" }',
    '  - { operationType: "map", name: "a", module: "guest:1.0.0" }',
    '  - { operationType: "map", name: "b", module: "guest:1.0.0" }',
    '  - { operationType: "sink", name: "sink" }',
    'connections:',
    '  - { from: { name: "source" }, to: { name: "a" } }',
    '  - { from: { name: "a" }, to: { name: "b" } }',
    '  - { from: { name: "b" }, to: { name: "a" } }',
    ''].join('\n'));
  await page.getByRole('link', { name: 'Edit' }).click();
  const transformed = page.locator('fieldset.dataset').first();
  await transformed.locator('.tf-graph').selectOption('graphs/rewrite.yaml');
  const proposed = await transformed.locator('.tf-config').inputValue();
  if (!JSON.parse(proposed).rewrite || JSON.parse(proposed).rewrite.mode !== '') throw new Error(`the required parameter was not proposed: ${proposed}`);
  await transformed.locator('.tf-config').fill('{"rewrite": {"mode": json}}');
  await page.click('#to-review');
  await page.locator('#problems', { hasText: "the transform's configuration is not JSON" }).waitFor();
  await transformed.locator('.tf-config').fill('{"rewrite": {"mode": "json"}}');
  // A graph the registry refuses: its problem is shown next to the graph field.
  await transformed.locator('.tf-graph').selectOption('graphs/cycle.yaml');
  await page.click('#to-review');
  await page.click('#save');
  const graphField = transformed.locator('.field[data-path="spec.datasets[0].datasetConfiguration.transform.graph"]');
  await graphField.locator('.field-error', { hasText: 'the graph has a cycle' }).waitFor();
  await transformed.locator('.tf-graph').selectOption('graphs/rewrite.yaml');
  await transformed.locator('.tf-on-error').selectOption('passThrough');
  await page.screenshot({ path: path.join(shots, 'asset-transform.png'), fullPage: true });
  await page.click('#to-review');
  await page.locator('#review').getByText('graphs/rewrite.yaml, on error passThrough').waitFor();
  await page.click('#save');
  await page.waitForURL(/#\/assets\/weather$/);
  const saved = await (await fetch(`${base}/api/v1/assets/weather`, { headers: { Authorization: `Bearer ${env('API_TOKEN')}` } })).json();
  const config = JSON.parse(saved.spec.datasets[0].datasetConfiguration || '{}');
  const expected = { graph: 'graphs/rewrite.yaml', configuration: { rewrite: { mode: 'json' } }, onError: 'passThrough' };
  if (JSON.stringify(config.transform) !== JSON.stringify(expected)) throw new Error(`saved transform: ${JSON.stringify(config)}`);
  await page.locator('#tail td.payload', { hasText: '"transformed":true' }).first().waitFor({ timeout: 60000 });

  step('the assets and devices lists show the health');
  await page.click('#nav-assets');
  await page.locator('tr[data-asset="weather"] .badge.Available').waitFor();
  await page.screenshot({ path: path.join(shots, 'assets.png') });
  await page.click('#nav-devices');
  await page.locator('tr[data-device="weather-station"] .badge.Available').waitFor();
  await page.screenshot({ path: path.join(shots, 'devices.png') });

  step('a lag of the live tail shows how many messages were skipped');
  // The connector cannot be made to lag on cue: the feed's answer is replaced by one whose
  // first event is the `lagged` a slow reader gets.
  const tail = '**/api/v1/assets/weather/tail';
  await page.route(tail, (route) => route.fulfill({
    status: 200,
    contentType: 'text/event-stream',
    body: 'event: lagged\ndata: {"skipped":12}\n\n',
  }));
  await page.goto(`${base}/#/assets/weather`);
  await page.locator('#tail tr.lagged', { hasText: '12 messages skipped: the view fell behind' }).first().waitFor();
  await page.unroute(tail);

  step('a device is deleted after confirmation, and the list is drawn again without it');
  await page.click('#nav-devices');
  await page.click('#new-device');
  await page.fill('#device-name', 'scratch');
  await page.fill('.ep-address', sseUrl);
  await page.click('#to-review');
  await page.click('#save');
  await page.locator('tr[data-device="scratch"]').waitFor();
  page.once('dialog', (dialog) => dialog.accept());
  await page.locator('tr[data-device="scratch"] button.danger').click();
  await page.locator('tr[data-device="scratch"]').waitFor({ state: 'detached' });
  await page.locator('tr[data-device="weather-station"]').waitFor();

  // Answers the UI handles (no token yet, a refused definition, an absent route) are
  // logged by the browser as failed loads; anything else is a fault of the page.
  const relevant = errors.filter((e) => !/status of (401|404|422)/.test(e));
  if (refusedWithToken.length) throw new Error(`refused with the token: ${refusedWithToken.join(', ')}`);
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
