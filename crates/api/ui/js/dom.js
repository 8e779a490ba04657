// DOM helpers. Every piece of text that comes from the API (names, messages, event
// payloads) is put in the page with textContent or as an attribute value, never as HTML:
// see `h`.

/** Creates an element. `attrs`: `class`, `text` (textContent), `on<event>` handlers,
 *  `value`/`checked`/`disabled` properties, `dataset` object; anything else an attribute.
 *  Children: nodes, strings (as text) or arrays of them; null/false are skipped. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function badge(status) {
  const text = status || 'Unknown';
  return h('span', { class: `badge ${text}`, text });
}

export function table(headers, rows, empty) {
  if (!rows.length) return h('div', { class: 'table-card' }, h('div', { class: 'empty', text: empty }));
  return h('div', { class: 'table-card' },
    h('table', {},
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', { text: x })))),
      h('tbody', {}, rows)));
}
