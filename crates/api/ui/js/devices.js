// The devices page: each device's inbound endpoints with their health.

import { api, API, optional } from './api.js';
import { append, badge, clear, h, table } from './dom.js';
import { main, remove } from './page.js';

export async function devicesPage() {
  const [devices, status] = await Promise.all([api('GET', `${API}/devices`), optional(`${API}/status`, null)]);
  const health = new Map((status?.devices || []).map((d) => [d.name, d]));
  const rows = [];
  for (const device of devices.items) {
    const name = device.metadata?.name || device.name;
    const endpoints = Object.entries(device.spec?.endpoints?.inbound || device.properties?.endpoints?.inbound || {});
    const errors = devices.problems.filter((p) => p.resource === `Device/${name}` && p.severity === 'error');
    const state = health.get(name);
    const first = endpoints.length ? endpoints : [[null, {}]];
    first.forEach(([epName, ep], i) => {
      const epHealth = epName ? state?.health?.endpoints?.[epName] : null;
      rows.push(h('tr', { dataset: { device: name } },
        i === 0 ? h('td', { rowspan: first.length }, h('a', { href: `#/devices/${encodeURIComponent(name)}/edit`, text: name })) : null,
        h('td', { text: epName || '—' }),
        h('td', { class: 'wrap', text: ep.address || '' }),
        h('td', { text: ep.authentication?.method || 'Anonymous' }),
        h('td', {}, errors.length ? h('span', { class: 'badge invalid', text: `${errors.length} error${errors.length > 1 ? 's' : ''}`, title: errors.map((p) => `${p.path}: ${p.message}`).join('\n') })
          : badge(epHealth?.status)),
        h('td', { class: 'muted', text: epHealth?.message || '' }),
        i === 0 ? h('td', { rowspan: first.length },
          h('a', { class: 'button small', href: `#/devices/${encodeURIComponent(name)}/edit`, text: 'Edit' }), ' ',
          h('button', { type: 'button', class: 'small danger', text: 'Delete', onclick: () => remove('devices', name) })) : null));
    });
  }
  append(clear(main()), [
    h('h1', { text: 'Devices' }),
    h('div', { class: 'toolbar' },
      h('p', { class: 'muted', text: 'Devices and their Microsoft.SSEHttp inbound endpoints: where the connector opens its event streams.' }),
      h('span', { class: 'spacer' }),
      h('a', { class: 'button primary', href: '#/devices/new', id: 'new-device', text: 'New device' })),
    table(['Name', 'Endpoint', 'Address', 'Authentication', 'Health', 'Details', ''], rows,
      'No devices yet. Create one to tell the connector where an SSE server is.'),
  ]);
}
