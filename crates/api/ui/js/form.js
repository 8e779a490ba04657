// Form building blocks shared by the editors: field paths as the model writes them, the
// problems shown next to their fields, labelled inputs, key/value rows, repeatable parts.

import { append, clear, h } from './dom.js';

// Field paths, as the model renders them: `spec.endpoints.inbound.sse.address`,
// `spec.datasets[0].destinations`, `attributes["a.b"]`.

export function key(path, k) {
  const plain = k !== '' && /^[A-Za-z0-9_-]+$/.test(k);
  if (plain) return path ? `${path}.${k}` : k;
  return `${path}[${JSON.stringify(k)}]`;
}
export const index = (path, i) => `${path}[${i}]`;

/** Shows problems next to the fields whose data-path is the longest prefix of theirs; the
 *  others (and a summary of all) in `box`. */
export function showProblems(form, box, problems, message) {
  for (const el of form.querySelectorAll('.field-error')) el.remove();
  for (const el of form.querySelectorAll('.has-error')) el.classList.remove('has-error');
  clear(box);
  box.hidden = true;
  if (!problems.length && !message) return;
  const fields = [...form.querySelectorAll('[data-path]')];
  const list = h('ul');
  let first = null;
  for (const problem of problems) {
    const path = problem.path || '';
    let best = null;
    for (const field of fields) {
      const p = field.dataset.path;
      const matches = path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`);
      if (matches && (!best || p.length > best.dataset.path.length)) best = field;
    }
    if (best) {
      best.classList.add('has-error');
      best.append(h('div', { class: 'field-error', text: `${problem.message}${path !== best.dataset.path ? ` (${path})` : ''}` }));
      first = first || best;
    }
    list.append(h('li', {}, h('code', { text: path || '(document)' }), ': ', problem.message));
  }
  box.hidden = false;
  append(box, [h('strong', { text: message || 'The definition is not valid.' }), problems.length ? list : null]);
  (first || box).scrollIntoView({ block: 'center' });
}

let uid = 0;
/** A number unique in the page (element ids, radio groups). */
export const nextId = () => ++uid;

/** A labelled input; the wrapper carries the field path for problems. */
export function field(label, input, { path, hint } = {}) {
  const id = input.id || `f${nextId()}`;
  input.id = id;
  return h('div', { class: 'field', dataset: path ? { path } : undefined },
    h('label', { for: id, text: label }), input, hint ? h('div', { class: 'hint', text: hint }) : null);
}

export const text = (value, attrs = {}) => h('input', { type: 'text', value: value ?? '', ...attrs });

export function select(options, value, attrs = {}) {
  return h('select', attrs, options.map(([v, label]) => h('option', { value: v, text: label, selected: v === value })));
}

/** Key/value rows (custom properties). Answers the container; `.collect()` reads it. */
export function keyValues(entries, path) {
  const rows = h('div');
  const add = (k = '', v = '') => {
    const row = h('div', { class: 'kv-row' },
      text(k, { placeholder: 'name', 'aria-label': 'property name', class: 'kv-key' }),
      text(v, { placeholder: 'value', 'aria-label': 'property value', class: 'kv-value' }),
      h('button', { type: 'button', class: 'small', text: 'Remove', onclick: () => row.remove() }));
    rows.append(row);
  };
  for (const [k, v] of Object.entries(entries || {})) add(k, typeof v === 'string' ? v : JSON.stringify(v));
  const box = h('div', { class: 'field', dataset: { path } }, rows,
    h('button', { type: 'button', class: 'small', text: 'Add property', onclick: () => add() }));
  box.collect = () => {
    const out = {};
    for (const row of rows.children) {
      const k = row.querySelector('.kv-key').value.trim();
      if (k) out[k] = row.querySelector('.kv-value').value;
    }
    return out;
  };
  return box;
}

/** Sets a property, or removes it when the value is empty. */
export function setOrDelete(obj, k, value) {
  const empty = value === undefined || value === null || value === ''
    || (Array.isArray(value) && !value.length)
    || (typeof value === 'object' && !Array.isArray(value) && !Object.keys(value).length);
  if (empty) delete obj[k]; else obj[k] = value;
}
