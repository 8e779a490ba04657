// The assets page: each asset's device endpoint, parts, health and messages per second
// (a sparkline of the last 15 minutes, refreshed every 5 s), 100 assets a page.

import { api, API, optional } from './api.js';
import { append, badge, clear, h, table } from './dom.js';
import { leave, main, onLeave, remove } from './page.js';
import { ago, perSecond, sparkline } from './sparkline.js';

const PAGE = 100;
let page = 0;

/** The rate cells of a row: sparkline and now, last message, failed deliveries. */
export function rateCells(rate, label) {
  if (!rate) return [h('td', { class: 'rate muted', text: '—' }), h('td', { class: 'muted', text: '—' }), h('td', { class: 'muted', text: '—' })];
  return [
    h('td', { class: 'rate' }, sparkline(rate.series, { label: `${label}: messages per second`, silent: rate.silent }),
      h('span', { class: 'rate-now', text: perSecond(rate.perSecond) })),
    h('td', { class: 'last-message' },
      h('span', { text: ago(rate.lastMessage), title: rate.lastMessage ? new Date(rate.lastMessage).toISOString() : '' }),
      rate.silent ? [' ', h('span', { class: 'badge silent', text: 'silent', title: `No message for 3 usual intervals (usually every ${rate.usualInterval} s)` })] : null),
    h('td', { class: rate.failed ? 'failed bad' : 'failed muted', text: String(rate.failed) }),
  ];
}

export async function assetsPage() {
  const [assets, status] = await Promise.all([api('GET', `${API}/assets`), optional(`${API}/status`, null)]);
  const health = new Map((status?.assets || []).map((a) => [a.name, a]));
  const nameOf = (asset) => asset.metadata?.name || asset.name;
  const all = [...assets.items].sort((a, b) => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0));
  const pages = Math.max(1, Math.ceil(all.length / PAGE));
  page = Math.min(page, pages - 1);
  const shown = all.slice(page * PAGE, (page + 1) * PAGE);
  const rateSlots = new Map();
  const rows = shown.map((asset) => {
    const name = nameOf(asset);
    const spec = asset.spec || asset.properties || {};
    const errors = assets.problems.filter((p) => p.resource === `Asset/${name}` && p.severity === 'error');
    const state = health.get(name);
    const events = (spec.eventGroups || []).reduce((n, g) => n + (g.events || []).length, 0);
    const slot = rateCells(null, name);
    rateSlots.set(name, slot);
    return h('tr', { dataset: { asset: name } },
      h('td', {}, h('a', { href: `#/assets/${encodeURIComponent(name)}`, text: name })),
      h('td', { text: `${spec.deviceRef?.deviceName || '?'} / ${spec.deviceRef?.endpointName || '?'}` }),
      h('td', { text: String((spec.datasets || []).length) }),
      h('td', { text: `${(spec.eventGroups || []).length} (${events} events)` }),
      h('td', {}, errors.length ? h('span', { class: 'badge invalid', text: `${errors.length} error${errors.length > 1 ? 's' : ''}`, title: errors.map((p) => `${p.path}: ${p.message}`).join('\n') })
        : badge(state?.health?.status)),
      slot,
      h('td', {},
        h('a', { class: 'button small', href: `#/assets/${encodeURIComponent(name)}`, text: 'Open' }), ' ',
        h('a', { class: 'button small', href: `#/assets/${encodeURIComponent(name)}/edit`, text: 'Edit' }), ' ',
        h('button', { type: 'button', class: 'small danger', text: 'Delete', onclick: () => remove('assets', name) })));
  });
  const drawRates = (reply) => {
    const byName = new Map((reply?.items || []).map((r) => [r.name, r]));
    for (const [name, cells] of rateSlots) {
      const fresh = rateCells(byName.get(name), name);
      cells.forEach((cell, i) => { cell.replaceWith(fresh[i]); cells[i] = fresh[i]; });
    }
  };
  const loadRates = async () => {
    try { drawRates(await optional(`${API}/rates?group=asset&limit=1000`, null)); } catch { /* keep the last view */ }
  };
  const pager = pages > 1 ? h('div', { class: 'pager' },
    h('button', { type: 'button', class: 'small', text: 'Previous', disabled: page === 0, onclick: () => { page -= 1; leave(); assetsPage(); } }),
    h('span', { class: 'muted', text: `Page ${page + 1} of ${pages} (${all.length} assets)` }),
    h('button', { type: 'button', class: 'small', text: 'Next', disabled: page >= pages - 1, onclick: () => { page += 1; leave(); assetsPage(); } })) : null;
  append(clear(main()), [
    h('h1', { text: 'Assets' }),
    h('div', { class: 'toolbar' },
      h('p', { class: 'muted', text: 'Assets say which streams of a device endpoint to read (datasets, event groups and events) and where their messages go.' }),
      h('span', { class: 'spacer' }),
      h('a', { class: 'button primary', href: '#/assets/new', id: 'new-asset', text: 'New asset' })),
    table(['Name', 'Device / endpoint', 'Datasets', 'Event groups', 'Health', 'Messages/s (15 min)', 'Last message', 'Failed', ''], rows,
      'No assets yet. Create one to start forwarding events.'),
    pager,
  ]);
  await loadRates();
  const timer = setInterval(loadRates, 5000);
  onLeave(() => clearInterval(timer));
}
