// The assets page: each asset's device endpoint, parts and health.

import { api, API, optional } from './api.js';
import { append, badge, clear, h, table } from './dom.js';
import { main, remove } from './page.js';

export async function assetsPage() {
  const [assets, status] = await Promise.all([api('GET', `${API}/assets`), optional(`${API}/status`, null)]);
  const health = new Map((status?.assets || []).map((a) => [a.name, a]));
  const rows = assets.items.map((asset) => {
    const name = asset.metadata?.name || asset.name;
    const spec = asset.spec || asset.properties || {};
    const errors = assets.problems.filter((p) => p.resource === `Asset/${name}` && p.severity === 'error');
    const state = health.get(name);
    const events = (spec.eventGroups || []).reduce((n, g) => n + (g.events || []).length, 0);
    return h('tr', { dataset: { asset: name } },
      h('td', {}, h('a', { href: `#/assets/${encodeURIComponent(name)}`, text: name })),
      h('td', { text: `${spec.deviceRef?.deviceName || '?'} / ${spec.deviceRef?.endpointName || '?'}` }),
      h('td', { text: String((spec.datasets || []).length) }),
      h('td', { text: `${(spec.eventGroups || []).length} (${events} events)` }),
      h('td', {}, errors.length ? h('span', { class: 'badge invalid', text: `${errors.length} error${errors.length > 1 ? 's' : ''}`, title: errors.map((p) => `${p.path}: ${p.message}`).join('\n') })
        : badge(state?.health?.status)),
      h('td', {},
        h('a', { class: 'button small', href: `#/assets/${encodeURIComponent(name)}`, text: 'Open' }), ' ',
        h('a', { class: 'button small', href: `#/assets/${encodeURIComponent(name)}/edit`, text: 'Edit' }), ' ',
        h('button', { type: 'button', class: 'small danger', text: 'Delete', onclick: () => remove('assets', name) })));
  });
  append(clear(main()), [
    h('h1', { text: 'Assets' }),
    h('div', { class: 'toolbar' },
      h('p', { class: 'muted', text: 'Assets say which streams of a device endpoint to read (datasets, event groups and events) and where their messages go.' }),
      h('span', { class: 'spacer' }),
      h('a', { class: 'button primary', href: '#/assets/new', id: 'new-asset', text: 'New asset' })),
    table(['Name', 'Device / endpoint', 'Datasets', 'Event groups', 'Health', ''], rows,
      'No assets yet. Create one to start forwarding events.'),
  ]);
}
