// Charts drawn as SVG by the page itself (no library, no inline style: colours come from
// style.css through classes). Each chart is an image for screen readers (role="img") whose
// label says in words what the lines show.

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) if (child) el.append(child);
  return el;
}

/** `1.5/s`, `230/s`, `1.2k/s`. */
export function perSecond(x) {
  if (x === null || x === undefined) return '—';
  if (x >= 1000) return `${(x / 1000).toFixed(1)}k/s`;
  if (x >= 100) return `${Math.round(x)}/s`;
  return `${Number(x.toFixed(2))}/s`;
}

/** `12 s ago`, `3 min ago`, `2 h ago` for a time in ms since the epoch. */
export function ago(ms) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** Words for a series: its range and its last value. */
export function describe(values, what, seconds) {
  const known = values.filter((v) => v !== null && v !== undefined);
  const minutes = Math.round((seconds || known.length * 5) / 60);
  if (!known.length) return `${what}: no samples yet`;
  const max = Math.max(...known);
  const min = Math.min(...known);
  return `${what} over the last ${minutes || 1} min: between ${perSecond(min)} and ${perSecond(max)}, now ${perSecond(known[known.length - 1])}`;
}

function points(values, width, height, max, slots) {
  const step = width / Math.max(1, slots - 1);
  const offset = slots - values.length;
  const out = [];
  values.forEach((v, i) => {
    if (v === null || v === undefined) return;
    const x = (offset + i) * step;
    const y = height - (max > 0 ? (v / max) * (height - 2) : 0) - 1;
    out.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  return out.join(' ');
}

/** A small line of `values` (per second, oldest first) in a 15-minute frame of `slots`
 *  points, labelled for screen readers. */
export function sparkline(values, { label = 'Messages per second', slots = 180, silent = false } = {}) {
  const width = 120;
  const height = 24;
  const known = values.filter((v) => v !== null && v !== undefined);
  const max = Math.max(0, ...known);
  const el = svg('svg', {
    class: `sparkline${silent ? ' silent' : ''}`, viewBox: `0 0 ${width} ${height}`, width, height,
    role: 'img', 'aria-label': describe(values, label, slots * 5), preserveAspectRatio: 'none',
  });
  el.append(svg('line', { class: 'baseline', x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5 }));
  if (known.length) el.append(svg('polyline', { class: 'line', points: points(values, width, height, max, slots) }));
  el.dataset.points = String(known.length);
  el.dataset.last = String(known.length ? known[known.length - 1] : '');
  return el;
}

/** The overview's chart: one line per series (`{name, values, cls}`), a scale on the left,
 *  minutes on the bottom, a legend, and a label in words. */
export function lineChart(series, { slots = 180, interval = 5, title = 'Messages per second' } = {}) {
  const width = 720;
  const height = 200;
  const left = 48;
  const bottom = 22;
  const plotW = width - left - 8;
  const plotH = height - bottom - 8;
  const all = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const top = niceMax(Math.max(0, ...all));
  const label = series.map((s) => describe(s.values, s.name, slots * interval)).join('. ');
  const el = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${title}. ${label}` });
  el.append(svg('title', {}, document.createTextNode(title)));
  const plot = svg('g', { transform: `translate(${left},8)` });
  for (const f of [0, 0.5, 1]) {
    const y = plotH - f * plotH;
    plot.append(svg('line', { class: 'grid', x1: 0, y1: y, x2: plotW, y2: y }));
    const t = svg('text', { class: 'axis', x: -6, y: y + 4, 'text-anchor': 'end' });
    t.textContent = perSecond(top * f).replace('/s', '');
    plot.append(t);
  }
  const minutes = Math.round((slots * interval) / 60);
  for (const m of [minutes, Math.round(minutes / 3 * 2), Math.round(minutes / 3), 0]) {
    const x = plotW - (m * 60 / interval / slots) * plotW;
    const t = svg('text', { class: 'axis', x, y: plotH + 16, 'text-anchor': m === 0 ? 'end' : 'middle' });
    t.textContent = m === 0 ? 'now' : `−${m} min`;
    plot.append(t);
  }
  for (const s of series) {
    if (!s.values.length) continue;
    plot.append(svg('polyline', { class: `line ${s.cls}`, points: points(s.values, plotW, plotH, top, slots) }));
  }
  el.append(plot);
  return el;
}

/** 1, 2 or 5 times a power of ten, at least `x` (and at least 1). */
function niceMax(x) {
  if (x <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}
