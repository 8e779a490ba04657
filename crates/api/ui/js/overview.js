// The overview (the landing page): counts by health, the broker, messages per second in and
// out over the last 15 minutes, and what needs attention; GET /api/v1/overview every 5 s.

import { api, API } from './api.js';
import { append, badge, clear, h } from './dom.js';
import { main, onLeave } from './page.js';
import { lineChart, perSecond } from './sparkline.js';

const STATES = ['Available', 'Degraded', 'Unavailable', 'Unknown'];
const KINDS = [['devices', 'Devices'], ['endpoints', 'Endpoints'], ['assets', 'Assets'], ['operations', 'Datasets & events']];
const SVG = 'http://www.w3.org/2000/svg';

/** A bar split by state, as SVG (widths are attributes: the policy allows no inline style). */
function stateBar(counts) {
  const bar = document.createElementNS(SVG, 'svg');
  bar.setAttribute('class', 'state-bar');
  bar.setAttribute('viewBox', '0 0 100 6');
  bar.setAttribute('preserveAspectRatio', 'none');
  bar.setAttribute('aria-hidden', 'true');
  let x = 0;
  for (const state of STATES) {
    const n = counts[state] || 0;
    if (!n || !counts.total) continue;
    const w = (n / counts.total) * 100;
    const rect = document.createElementNS(SVG, 'rect');
    for (const [k, v] of Object.entries({ class: state, x, y: 0, width: w, height: 6 })) rect.setAttribute(k, String(v));
    bar.append(rect);
    x += w;
  }
  return bar;
}

function countCard(kind, title, counts) {
  const c = counts || { total: 0, errors: 0 };
  return h('section', { class: 'count-card', dataset: { kind } },
    h('h2', { text: title }),
    h('div', { class: 'total', text: String(c.total) }),
    stateBar(c),
    h('ul', { class: 'states' }, STATES.map((state) => h('li', { dataset: { state }, class: c[state] ? '' : 'zero' },
      h('span', { class: `dot ${state}` }), h('span', { class: 'n', text: String(c[state] || 0) }), ` ${state}`))),
    c.errors ? h('p', { class: 'errors', dataset: { errors: c.errors }, text: `${c.errors} with a configuration error` }) : null);
}

/** Where an attention item is shown in full. */
function link(item) {
  if (item.kind === 'device' || item.kind === 'endpoint') return `#/devices/${encodeURIComponent(item.owner)}/edit`;
  return `#/assets/${encodeURIComponent(item.owner)}`;
}

function attentionItem(item) {
  const name = item.part ? `${item.owner} / ${item.part}` : item.owner;
  return h('li', { dataset: { kind: item.kind, owner: item.owner, part: item.part } },
    h('div', { class: 'attention-head' },
      item.configError ? h('span', { class: 'badge error', text: 'configuration error' }) : null,
      badge(item.health),
      h('span', { class: 'kind', text: item.kind }),
      h('a', { href: link(item), text: name }),
      item.code ? h('code', { text: item.code }) : null),
    item.message ? h('p', { class: 'message', text: item.message }) : null,
    item.fix ? h('p', { class: 'fix' }, h('strong', { text: 'What to do: ' }), item.fix) : null);
}

export async function overviewPage() {
  const counts = h('div', { class: 'counts', id: 'overview-counts' });
  const broker = h('p', { class: 'broker', id: 'overview-broker' });
  const chartBox = h('div', { id: 'rates-chart' });
  const now = h('p', { class: 'rates-now', id: 'rates-now' });
  const attention = h('div', { id: 'attention' });
  const draw = (o) => {
    clear(counts);
    append(counts, KINDS.map(([kind, title]) => countCard(kind, title, o.counts?.[kind])));
    clear(broker);
    append(broker, ['Broker ', h('code', { text: o.broker?.url || '?' }), ' ',
      h('span', { class: `badge ${o.broker?.connected ? 'Available' : 'Unavailable'}`, text: o.broker?.connected ? 'connected' : 'disconnected' }),
      o.problems?.errors || o.problems?.warnings ? ` · definitions: ${o.problems.errors} errors, ${o.problems.warnings} warnings` : '']);
    clear(chartBox);
    clear(now);
    const r = o.rates;
    if (r) {
      const slots = Math.round(r.window / r.interval);
      const chart = lineChart([
        { name: 'Events in', values: r.in, cls: 'in' },
        { name: 'Messages out', values: r.out, cls: 'out' },
      ], { slots, interval: r.interval, title: 'Messages per second, last 15 minutes' });
      chart.dataset.points = String(r.out.length);
      chart.dataset.end = String(r.end);
      append(chartBox, chart);
      const last = (xs) => (xs.length ? xs[xs.length - 1] : null);
      append(now, [h('span', { class: 'key in' }), `Events in ${perSecond(last(r.in))}`,
        h('span', { class: 'key out' }), `Messages out ${perSecond(last(r.out))}`,
        h('span', { class: 'muted', text: ` · since ${new Date(r.since).toLocaleTimeString()} (sampled every ${r.interval} s while the UI is open)` })]);
    } else {
      append(chartBox, h('p', { class: 'muted', text: 'No rates on this listener.' }));
    }
    clear(attention);
    const items = o.attention || [];
    if (!items.length) {
      append(attention, h('p', { class: 'all-good', text: 'Everything is Available: nothing needs attention.' }));
    } else {
      append(attention, h('ul', { class: 'attention' }, items.map(attentionItem)));
      if (o.attentionTotal > items.length) append(attention, h('p', { class: 'muted', text: `… and ${o.attentionTotal - items.length} more` }));
    }
  };
  const first = await api('GET', `${API}/overview`);
  append(clear(main()), [
    h('h1', { text: 'Overview' }),
    broker,
    counts,
    h('section', { class: 'card' },
      h('h2', { text: 'Messages per second, last 15 minutes' }), now, chartBox),
    h('h2', { text: 'Needs attention' }),
    attention,
  ]);
  draw(first);
  const timer = setInterval(async () => {
    try { draw(await api('GET', `${API}/overview`)); } catch { /* keep the last view */ }
  }, 5000);
  onLeave(() => clearInterval(timer));
}
