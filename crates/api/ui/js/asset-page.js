// The asset page: the health and messages per second of the asset and of each part
// (refreshed every 5 s), its configuration problems, the live tail of its messages and the
// schemas of its parts.

import { api, API, optional } from './api.js';
import { append, badge, clear, h } from './dom.js';
import { describeDestination } from './destination.js';
import { rateCells } from './assets.js';
import { main, onLeave } from './page.js';
import { schemaList } from './schemas.js';
import { liveTail } from './tail.js';

/** The asset's rate: its operations' series summed. */
function assetRate(rates) {
  const items = [...rates.values()];
  if (!items.length) return null;
  const length = Math.max(...items.map((r) => r.series.length));
  const series = Array.from({ length }, (_, i) => {
    const known = items.map((r) => r.series[i]).filter((v) => v !== null && v !== undefined);
    return known.length ? known.reduce((a, b) => a + b, 0) : null;
  });
  const lasts = items.map((r) => r.lastMessage).filter(Boolean);
  return {
    series, perSecond: series[series.length - 1] ?? null, failed: items.reduce((n, r) => n + r.failed, 0),
    lastMessage: lasts.length ? Math.max(...lasts) : null, silent: false,
  };
}

/** A row for the asset and for each of its datasets and events: source, destination, health,
 *  messages per second (`rates`: the operations' rates by operation name). */
function healthRows(asset, state, rates) {
  const name = asset.metadata?.name;
  const spec = asset.spec || asset.properties || {};
  const st = state?.status || {};
  const hl = state?.health || {};
  const rows = [];
  const error = (e) => (e ? `${e.code ? `${e.code}: ` : ''}${e.message || ''}` : '');
  rows.push(h('tr', {}, h('td', { text: 'Asset' }), h('td', { text: asset.metadata?.name }), h('td', { text: '' }), h('td', { text: '' }),
    h('td', {}, st.config?.error ? badge('error') : badge(hl.status)), rateCells(assetRate(rates), name),
    h('td', { text: error(st.config?.error) || hl.message || '' }),
    h('td', { class: 'muted', text: hl.lastUpdateTime || '' })));
  (spec.datasets || []).forEach((d) => {
    const s = (st.datasets || []).find((x) => x.name === d.name) || {};
    const r = (hl.datasets || []).find((x) => x.datasetName === d.name)?.runtimeHealth || {};
    rows.push(h('tr', { dataset: { part: `dataset/${d.name}` } }, h('td', { text: 'Dataset' }), h('td', { text: d.name }),
      h('td', { class: 'wrap', text: d.dataSource || '(address)' }), h('td', { class: 'wrap', text: describeDestination(d.destinations?.[0]) || 'default' }),
      h('td', {}, s.error ? badge('error') : badge(r.status)),
      rateCells(rates.get(`${name}/datasets/${d.name}`), `Dataset ${d.name}`),
      h('td', { text: [error(s.error), r.reasonCode, r.message].filter(Boolean).join(' — ') }),
      h('td', { class: 'muted', text: r.lastUpdateTime || '' })));
  });
  (spec.eventGroups || []).forEach((g) => (g.events || []).forEach((e) => {
    const s = ((st.eventGroups || []).find((x) => x.name === g.name)?.events || []).find((x) => x.name === e.name) || {};
    const r = (hl.events || []).find((x) => x.eventGroupName === g.name && x.eventName === e.name)?.runtimeHealth || {};
    rows.push(h('tr', { dataset: { part: `event/${g.name}/${e.name}` } }, h('td', { text: 'Event' }), h('td', { text: `${g.name} / ${e.name}` }),
      h('td', { class: 'wrap', text: `${g.dataSource || '(address)'} · SSE event ${e.dataSource || e.name}` }),
      h('td', { class: 'wrap', text: describeDestination(e.destinations?.[0] || g.defaultDestinations?.[0]) || 'default' }),
      h('td', {}, s.error ? badge('error') : badge(r.status)),
      rateCells(rates.get(`${name}/eventGroups/${g.name}/events/${e.name}`), `Event ${g.name} / ${e.name}`),
      h('td', { text: [error(s.error), r.reasonCode, r.message].filter(Boolean).join(' — ') }),
      h('td', { class: 'muted', text: r.lastUpdateTime || '' })));
  }));
  return rows;
}

export async function assetPage(name) {
  const [asset, status] = await Promise.all([
    api('GET', `${API}/assets/${encodeURIComponent(name)}`),
    optional(`${API}/status`, null),
  ]);
  const spec = asset.spec || asset.properties || {};
  const stateOf = (s) => (s?.assets || []).find((a) => a.name === name);
  const headBadge = h('span');
  const healthBody = h('tbody');
  const problemsBox = h('div');
  const schemas = schemaList();
  let rates = new Map();
  const loadRates = async () => {
    try {
      const reply = await optional(`${API}/rates?asset=${encodeURIComponent(name)}&limit=1000`, null);
      rates = new Map((reply?.items || []).map((r) => [r.name, r]));
    } catch { /* keep the last rates */ }
  };
  const refresh = (s) => {
    const state = stateOf(s);
    schemas.draw(state);
    clear(headBadge).append(badge(state?.health?.status));
    clear(healthBody);
    append(healthBody, healthRows(asset, state, rates));
    clear(problemsBox);
    const problems = (s?.problems || []).filter((p) => p.resource === `Asset/${name}`);
    if (problems.length) {
      append(problemsBox, h('div', { class: `problems${problems.every((p) => p.severity !== 'error') ? ' warnings' : ''}` },
        h('strong', { text: 'Configuration problems' }),
        h('ul', {}, problems.map((p) => h('li', {}, h('code', { text: p.path }), `: ${p.message} (${p.severity})`)))));
    }
  };
  if (status) {
    const timer = setInterval(async () => {
      try {
        const [next] = await Promise.all([api('GET', `${API}/status`), loadRates()]);
        refresh(next);
      } catch { /* keep the last view */ }
    }, 5000);
    onLeave(() => clearInterval(timer));
  }
  await loadRates();
  refresh(status);

  const parts = [
    ...(spec.datasets || []).map((d) => `datasets/${d.name}`),
    ...(spec.eventGroups || []).flatMap((g) => (g.events || []).map((e) => `eventGroups/${g.name}/events/${e.name}`)),
  ];
  const tail = liveTail(name, parts);
  append(clear(main()), [
    h('h1', {}, h('span', { text: spec.displayName || name }), headBadge,
      h('a', { class: 'button small', href: `#/assets/${encodeURIComponent(name)}/edit`, text: 'Edit' })),
    h('p', { class: 'muted' }, `Asset ${name} · device `, h('a', { href: `#/devices/${encodeURIComponent(spec.deviceRef?.deviceName || '')}/edit`, text: spec.deviceRef?.deviceName || '?' }),
      ` · endpoint ${spec.deviceRef?.endpointName || '?'}`),
    problemsBox,
    h('h2', { text: 'Health' }),
    h('div', { class: 'table-card' }, h('table', { id: 'health' },
      h('thead', {}, h('tr', {}, ['Part', 'Name', 'Source', 'Destination', 'Health', 'Messages/s (15 min)', 'Last message', 'Failed', 'Details', 'Updated'].map((x) => h('th', { text: x })))), healthBody)),
    ...tail.nodes,
    h('h2', { text: 'Schemas' }), schemas.box,
  ]);
  tail.start();
}
