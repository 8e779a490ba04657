// sse-connector web UI: plain ES module, no framework, no build step.
//
// Every piece of text that comes from the API (names, messages, event payloads) is put in
// the page with textContent or as an attribute value, never as HTML: see `h` below.

const API = '/api/v1';
const API_VERSION = 'namespaces.deviceregistry.microsoft.com/v1';
const TOKEN_KEY = 'sse-connector-token';
const TAIL_ROWS = 200;

// ---------------------------------------------------------------------------------------
// DOM helpers

/** Creates an element. `attrs`: `class`, `text` (textContent), `on<event>` handlers,
 *  `value`/`checked`/`disabled` properties, `dataset` object; anything else an attribute.
 *  Children: nodes, strings (as text) or arrays of them; null/false are skipped. */
function h(tag, attrs = {}, ...children) {
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

function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const main = () => document.getElementById('main');

function badge(status) {
  const text = status || 'Unknown';
  return h('span', { class: `badge ${text}`, text });
}

function table(headers, rows, empty) {
  if (!rows.length) return h('div', { class: 'table-card' }, h('div', { class: 'empty', text: empty }));
  return h('div', { class: 'table-card' },
    h('table', {},
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', { text: x })))),
      h('tbody', {}, rows)));
}

// ---------------------------------------------------------------------------------------
// API access, with the token prompt

class ApiFailure extends Error {
  constructor(status, body) {
    const message = body && body.error ? body.error.message : (typeof body === 'string' && body ? body : `HTTP ${status}`);
    super(message);
    this.status = status;
    this.problems = (body && body.error && body.error.problems) || [];
  }
}

let tokenPrompt = null;

/** Shows the token dialog once, whatever the number of requests waiting for it. */
function askToken() {
  if (tokenPrompt) return tokenPrompt;
  tokenPrompt = new Promise((resolve, reject) => {
    const dialog = document.getElementById('token-dialog');
    const form = document.getElementById('token-form');
    const input = document.getElementById('token-input');
    input.value = '';
    let submitted = false;
    const onSubmit = () => {
      submitted = true;
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    };
    form.addEventListener('submit', onSubmit, { once: true });
    // Closed by the submit button, or dismissed with Escape.
    dialog.addEventListener('close', () => {
      form.removeEventListener('submit', onSubmit);
      tokenPrompt = null;
      if (submitted) resolve();
      else reject(new ApiFailure(401, 'This page needs the API token: reload it to enter the token.'));
    }, { once: true });
    dialog.showModal();
  });
  return tokenPrompt;
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Calls the API. `body`: a JS value sent as JSON, or `{raw, type}` sent as is. Answers the
 *  parsed JSON (or text); throws ApiFailure on an error status. */
async function api(method, path, body) {
  const headers = authHeaders();
  let payload;
  if (body !== undefined) {
    if (body && body.raw !== undefined) {
      payload = body.raw;
      headers['Content-Type'] = body.type || 'text/plain';
    } else {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
  }
  const response = await fetch(path, { method, headers, body: payload });
  if (response.status === 401) {
    await askToken();
    return api(method, path, body);
  }
  const type = response.headers.get('content-type') || '';
  let data = null;
  if (response.status !== 204) data = type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) throw new ApiFailure(response.status, data);
  return data;
}

/** The answer, or `fallback` when the route is absent (404) on this listener. */
async function optional(path, fallback) {
  try {
    return await api('GET', path);
  } catch (error) {
    if (error.status === 404) return fallback;
    throw error;
  }
}

const seg = (name) => name.split('/').map(encodeURIComponent).join('/');

// ---------------------------------------------------------------------------------------
// Field paths, as the model renders them: `spec.endpoints.inbound.sse.address`,
// `spec.datasets[0].destinations`, `attributes["a.b"]`.

function key(path, k) {
  const plain = k !== '' && /^[A-Za-z0-9_-]+$/.test(k);
  if (plain) return path ? `${path}.${k}` : k;
  return `${path}[${JSON.stringify(k)}]`;
}
const index = (path, i) => `${path}[${i}]`;

/** Shows problems next to the fields whose data-path is the longest prefix of theirs; the
 *  others (and a summary of all) in `box`. */
function showProblems(form, box, problems, message) {
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

// ---------------------------------------------------------------------------------------
// Form building blocks

let uid = 0;

/** A labelled input; the wrapper carries the field path for problems. */
function field(label, input, { path, hint } = {}) {
  const id = input.id || `f${++uid}`;
  input.id = id;
  return h('div', { class: 'field', dataset: path ? { path } : undefined },
    h('label', { for: id, text: label }), input, hint ? h('div', { class: 'hint', text: hint }) : null);
}

const text = (value, attrs = {}) => h('input', { type: 'text', value: value ?? '', ...attrs });

function select(options, value, attrs = {}) {
  return h('select', attrs, options.map(([v, label]) => h('option', { value: v, text: label, selected: v === value })));
}

/** Key/value rows (custom properties). Answers the container; `.collect()` reads it. */
function keyValues(entries, path) {
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

/** A destination editor: none (use the default) / Mqtt / BrokerStateStore / Storage. */
function destinationEditor(destination, path, { allowNone = true, stateStore = true } = {}) {
  const d = destination || {};
  const c = d.configuration || {};
  const targets = [...(allowNone ? [['', 'Default (inherited)']] : []), ['Mqtt', 'MQTT topic'],
    ...(stateStore ? [['BrokerStateStore', 'State store key']] : []), ['Storage', 'File (JSON lines)']];
  const target = select(targets, d.target || (allowNone ? '' : 'Mqtt'), { class: 'dest-target' });
  const topic = text(c.topic, { placeholder: 'plant/weather', class: 'dest-topic' });
  const qos = select([['Qos1', 'QoS 1 (at least once)'], ['Qos0', 'QoS 0 (at most once)']], c.qos || 'Qos1');
  const retain = select([['Never', 'Never'], ['Keep', 'Keep']], c.retain || 'Never');
  const ttl = h('input', { type: 'number', min: '0', value: c.ttl ?? '', placeholder: 'seconds' });
  const stateKey = text(c.key, { placeholder: 'weather/latest' });
  const filePath = text(c.path, { placeholder: 'weather/events.jsonl' });
  const cfg = `${index(`${path}`, 0)}.configuration`;
  const mqtt = h('div', { class: 'grid' },
    field('Topic', topic, { path: `${cfg}.topic` }), field('QoS', qos, { path: `${cfg}.qos` }),
    field('Retain', retain, { path: `${cfg}.retain` }), field('Message expiry (ttl)', ttl, { path: `${cfg}.ttl` }));
  const store = field('Key', stateKey, { path: `${cfg}.key`, hint: 'The latest payload is SET at this key.' });
  const storage = field('Path', filePath, { path: `${cfg}.path`, hint: 'Relative to the storage root; one JSON line per message.' });
  const show = () => {
    mqtt.hidden = target.value !== 'Mqtt';
    store.hidden = target.value !== 'BrokerStateStore';
    storage.hidden = target.value !== 'Storage';
  };
  target.addEventListener('change', show);
  show();
  const box = h('div', { class: 'field destination', dataset: { path } },
    field('Destination', target), mqtt, store, storage);
  box.collect = () => {
    const extra = { ...(d.configuration || {}) };
    delete extra.topic; delete extra.qos; delete extra.retain; delete extra.ttl; delete extra.key; delete extra.path;
    switch (target.value) {
      case 'Mqtt': {
        const configuration = { ...extra, topic: topic.value.trim(), qos: qos.value, retain: retain.value };
        if (ttl.value !== '') configuration.ttl = Number(ttl.value);
        return [{ ...d, target: 'Mqtt', configuration }];
      }
      case 'BrokerStateStore':
        return [{ ...d, target: 'BrokerStateStore', configuration: { ...extra, key: stateKey.value.trim() } }];
      case 'Storage':
        return [{ ...d, target: 'Storage', configuration: { ...extra, path: filePath.value.trim() } }];
      default:
        return null;
    }
  };
  box.describe = () => {
    const dest = box.collect();
    return dest ? describeDestination(dest[0]) : 'default';
  };
  return box;
}

function describeDestination(d) {
  if (!d) return '';
  const c = d.configuration || {};
  switch (d.target) {
    case 'Mqtt': return `MQTT ${c.topic || '?'} (${c.qos || 'Qos1'}${c.retain === 'Keep' ? ', retained' : ''})`;
    case 'BrokerStateStore': return `state store key ${c.key || '?'}`;
    case 'Storage': return `file ${c.path || '?'}`;
    default: return d.target || '';
  }
}

/** Sets a property, or removes it when the value is empty. */
function setOrDelete(obj, k, value) {
  const empty = value === undefined || value === null || value === ''
    || (Array.isArray(value) && !value.length)
    || (typeof value === 'object' && !Array.isArray(value) && !Object.keys(value).length);
  if (empty) delete obj[k]; else obj[k] = value;
}

/** The form / review steps shared by both editors. */
function wizard({ title, steps, build, review, save, back }) {
  const problems = h('div', { class: 'problems', hidden: true, role: 'alert', id: 'problems' });
  const form = h('form', { novalidate: true, onsubmit: (e) => e.preventDefault() }, steps);
  const reviewBox = h('div', { class: 'card', hidden: true, id: 'review' });
  const stepBar = h('div', { class: 'steps' }, h('span', { class: 'current', text: '1. Details' }), h('span', { text: '2. Review' }));
  const toForm = () => {
    reviewBox.hidden = true; form.hidden = false; reviewButtons.hidden = true; formButtons.hidden = false;
    stepBar.children[0].className = 'current'; stepBar.children[1].className = '';
  };
  const toReview = () => {
    showProblems(form, problems, []);
    clear(reviewBox);
    let built;
    try {
      built = build();
    } catch (error) {
      showProblems(form, problems, [], error.message);
      return;
    }
    append(reviewBox, [h('h2', { text: 'Review' }), review(built),
      h('h3', { text: 'As it will be written' }), h('pre', { class: 'json', text: JSON.stringify(built.resource, null, 2) })]);
    reviewBox.hidden = false; form.hidden = true; reviewButtons.hidden = false; formButtons.hidden = true;
    stepBar.children[0].className = ''; stepBar.children[1].className = 'current';
    window.scrollTo(0, 0);
  };
  const status = h('span', { class: 'muted' });
  const saveButton = h('button', { type: 'button', class: 'primary', id: 'save', text: 'Save' });
  saveButton.addEventListener('click', async () => {
    saveButton.disabled = true;
    status.textContent = 'Saving…';
    try {
      await save(build());
    } catch (error) {
      toForm();
      showProblems(form, problems, error.problems || [], error.message);
      status.textContent = '';
    } finally {
      saveButton.disabled = false;
    }
  });
  const formButtons = h('div', { class: 'toolbar' },
    h('button', { type: 'button', class: 'primary', id: 'to-review', text: 'Review', onclick: toReview }),
    h('a', { class: 'button', href: back, text: 'Cancel' }));
  const reviewButtons = h('div', { class: 'toolbar', hidden: true },
    saveButton, h('button', { type: 'button', text: 'Back to the form', onclick: toForm }), status);
  return h('div', {}, h('h1', { text: title }), stepBar, problems, form, reviewBox, formButtons, reviewButtons);
}

// ---------------------------------------------------------------------------------------
// Devices

async function devicesPage() {
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

async function remove(collection, name) {
  if (!window.confirm(`Delete ${name}? Its file is removed from the registry.`)) return;
  try {
    await api('DELETE', `${API}/${collection}/${encodeURIComponent(name)}`);
    render();
  } catch (error) {
    const lines = (error.problems || []).map((p) => `${p.resource}: ${p.path}: ${p.message}`);
    window.alert([error.message, ...lines].join('\n'));
  }
}

function endpointEditor(deviceName, epName, ep, existingTrust) {
  // Field paths use the endpoint's current name.
  const base = () => key('spec.endpoints.inbound', nameInput.value.trim() || epName || 'endpoint');
  const nameInput = text(epName, { placeholder: 'sse', class: 'ep-name' });
  const address = h('input', { type: 'url', value: ep.address || '', placeholder: 'https://sensor.example:8443/base', class: 'ep-address' });
  const auth = ep.authentication || {};
  const method = auth.method || 'Anonymous';
  const radios = ['Anonymous', 'UsernamePassword', 'Certificate'].map((m) =>
    h('label', { class: 'inline' }, h('input', { type: 'radio', name: `auth${uid}`, value: m, checked: m === method, class: 'ep-auth' }),
      { Anonymous: 'Anonymous', UsernamePassword: 'Username and password', Certificate: 'Client certificate' }[m]));
  uid += 1;
  const up = auth.usernamePasswordCredentials || {};
  const x509 = auth.x509Credentials || {};
  const prefix = () => `${deviceName() || 'device'}-creds`;
  const userSecret = text(up.usernameSecretName, { placeholder: 'sse-creds/username', class: 'ep-user-secret' });
  const passSecret = text(up.passwordSecretName, { placeholder: 'sse-creds/password', class: 'ep-pass-secret' });
  const userValue = text('', { autocomplete: 'off', placeholder: 'leave empty to keep the stored value', class: 'ep-user-value' });
  const passValue = h('input', { type: 'password', autocomplete: 'new-password', placeholder: 'leave empty to keep the stored value', class: 'ep-pass-value' });
  const certSecret = text(x509.certificateSecretName, { placeholder: 'client/cert.pem' });
  const keySecret = text(x509.keySecretName, { placeholder: 'client/key.pem' });
  const interSecret = text(x509.intermediateCertificatesSecretName, { placeholder: 'optional' });
  const certValue = h('textarea', { placeholder: '-----BEGIN CERTIFICATE----- (leave empty to keep the stored value)' });
  const keyValue = h('textarea', { placeholder: '-----BEGIN PRIVATE KEY----- (leave empty to keep the stored value)' });
  const trustList = text(ep.trustSettings?.trustList, { list: 'trust-lists', placeholder: 'plant-ca', class: 'ep-trust' });
  const trustPem = h('textarea', { placeholder: 'Optional: CA certificates (PEM) to store as this trust list' });
  const p = (suffix) => `${base()}.${suffix}`;
  const upBox = h('div', {},
    h('div', { class: 'grid' },
      field('Username secret name', userSecret, { path: 'ep:authentication.usernamePasswordCredentials.usernameSecretName' }),
      field('Password secret name', passSecret, { path: 'ep:authentication.usernamePasswordCredentials.passwordSecretName' })),
    h('div', { class: 'grid' },
      field('Username (stored in the secret)', userValue),
      field('Password (stored in the secret)', passValue, { hint: 'Secrets are write-only: a stored value is never shown.' })));
  const certBox = h('div', {},
    h('div', { class: 'grid' },
      field('Certificate secret name', certSecret, { path: 'ep:authentication.x509Credentials.certificateSecretName' }),
      field('Key secret name', keySecret, { path: 'ep:authentication.x509Credentials.keySecretName' }),
      field('Intermediate certificates secret name', interSecret, { path: 'ep:authentication.x509Credentials.intermediateCertificatesSecretName' })),
    h('div', { class: 'grid' }, field('Certificate (PEM, stored in the secret)', certValue), field('Key (PEM, stored in the secret)', keyValue)));
  const current = () => radios.map((r) => r.querySelector('input')).find((r) => r.checked)?.value || 'Anonymous';
  const show = () => {
    upBox.hidden = current() !== 'UsernamePassword';
    certBox.hidden = current() !== 'Certificate';
    if (current() === 'UsernamePassword') {
      if (!userSecret.value) userSecret.value = `${prefix()}/username`;
      if (!passSecret.value) passSecret.value = `${prefix()}/password`;
    }
    if (current() === 'Certificate') {
      if (!certSecret.value) certSecret.value = `${prefix()}/cert.pem`;
      if (!keySecret.value) keySecret.value = `${prefix()}/key.pem`;
    }
  };
  for (const r of radios) r.querySelector('input').addEventListener('change', show);
  const box = h('fieldset', { class: 'endpoint' },
    h('legend', { text: 'Inbound endpoint (Microsoft.SSEHttp)' }),
    h('div', { class: 'grid' },
      field('Endpoint name', nameInput, { path: 'ep:', hint: 'Assets refer to the device and this name.' }),
      field('Address', address, { path: 'ep:address', hint: 'http(s) URL of the SSE server; data sources are joined to it.' })),
    h('div', { class: 'field', dataset: { path: 'ep:authentication' } }, h('label', { text: 'Authentication' }), radios),
    upBox, certBox,
    h('div', { class: 'grid' },
      field('Trust list', trustList, { path: 'ep:trustSettings.trustList', hint: existingTrust.length ? `Known: ${existingTrust.join(', ')}` : 'CA certificates added to the system roots (never disables verification).' }),
      field('Trust list certificates (PEM)', trustPem)),
    h('button', { type: 'button', class: 'small danger', text: 'Remove endpoint', onclick: () => box.remove() }));
  show();
  // The field paths depend on the endpoint's name: fixed up before problems are shown.
  box.fixPaths = () => {
    for (const el of box.querySelectorAll('[data-path^="ep:"]')) {
      const rest = el.dataset.path.slice(3);
      el.dataset.path = rest ? p(rest) : base();
      el.dataset.epRest = rest;
    }
    for (const el of box.querySelectorAll('[data-ep-rest]')) {
      el.dataset.path = el.dataset.epRest ? p(el.dataset.epRest) : base();
    }
  };
  box.collect = () => {
    const name = nameInput.value.trim();
    if (!name) throw new Error('Every endpoint needs a name.');
    const out = { ...ep, endpointType: ep.endpointType || 'Microsoft.SSEHttp', address: address.value.trim() };
    const m = current();
    const authentication = { method: m };
    const secrets = [];
    if (m === 'UsernamePassword') {
      authentication.usernamePasswordCredentials = {
        ...(auth.usernamePasswordCredentials || {}),
        usernameSecretName: userSecret.value.trim(),
        passwordSecretName: passSecret.value.trim(),
      };
      if (userValue.value) secrets.push({ name: userSecret.value.trim(), value: userValue.value });
      if (passValue.value) secrets.push({ name: passSecret.value.trim(), value: passValue.value });
    } else if (m === 'Certificate') {
      const x = { ...(auth.x509Credentials || {}) };
      setOrDelete(x, 'certificateSecretName', certSecret.value.trim());
      setOrDelete(x, 'keySecretName', keySecret.value.trim());
      setOrDelete(x, 'intermediateCertificatesSecretName', interSecret.value.trim());
      authentication.x509Credentials = x;
      if (certValue.value.trim()) secrets.push({ name: certSecret.value.trim(), value: certValue.value });
      if (keyValue.value.trim()) secrets.push({ name: keySecret.value.trim(), value: keyValue.value });
    }
    out.authentication = authentication;
    const trust = { ...(ep.trustSettings || {}) };
    setOrDelete(trust, 'trustList', trustList.value.trim());
    setOrDelete(out, 'trustSettings', trust);
    const trustWrites = trustPem.value.trim() ? [{ list: trustList.value.trim(), pem: trustPem.value }] : [];
    if (trustWrites.length && !trustList.value.trim()) throw new Error('Name the trust list the certificates go to.');
    return { name, endpoint: out, secrets, trustWrites };
  };
  return box;
}

async function deviceEditor(name) {
  const [existing, trust] = await Promise.all([
    name ? api('GET', `${API}/devices/${encodeURIComponent(name)}`) : null,
    optional(`${API}/trust`, { trustLists: [] }),
  ]);
  const trustNames = trust.trustLists.map((t) => t.name);
  const resource = existing || { apiVersion: API_VERSION, kind: 'Device', metadata: { name: '' }, spec: { enabled: true } };
  const spec = resource.spec || {};
  const nameInput = text(resource.metadata?.name, { placeholder: 'weather-station', disabled: Boolean(name), id: 'device-name' });
  const enabled = h('input', { type: 'checkbox', checked: spec.enabled !== false });
  const endpoints = h('div', { id: 'endpoints' });
  const inbound = Object.entries(spec.endpoints?.inbound || {});
  if (!inbound.length) inbound.push(['sse', { endpointType: 'Microsoft.SSEHttp', address: '' }]);
  const deviceName = () => nameInput.value.trim();
  for (const [epName, ep] of inbound) endpoints.append(endpointEditor(deviceName, epName, ep, trustNames));
  const attributes = keyValues(spec.attributes, 'spec.attributes');
  const steps = [
    h('datalist', { id: 'trust-lists' }, trustNames.map((t) => h('option', { value: t }))),
    h('fieldset', {}, h('legend', { text: 'Device' }),
      h('div', { class: 'grid' },
        field('Name', nameInput, { path: 'metadata.name', hint: 'Lowercase letters, digits, "-" and ".".' }),
        h('div', { class: 'field', dataset: { path: 'spec.enabled' } }, h('label', { text: 'Enabled' }),
          h('label', { class: 'inline' }, enabled, 'Open its streams')))),
    endpoints,
    h('button', { type: 'button', class: 'small', text: 'Add endpoint', onclick: () => endpoints.append(endpointEditor(deviceName, '', {}, trustNames)) }),
    h('fieldset', {}, h('legend', { text: 'Custom properties' }),
      h('p', { class: 'hint', text: 'Free-form attributes of the device (spec.attributes).' }), attributes),
  ];
  const build = () => {
    const next = structuredClone(resource);
    next.metadata = { ...(next.metadata || {}), name: deviceName() };
    next.spec = { ...spec, enabled: enabled.checked };
    setOrDelete(next.spec, 'attributes', attributes.collect());
    const collected = [...endpoints.children].map((box) => { box.fixPaths(); return box.collect(); });
    const inboundOut = {};
    for (const c of collected) inboundOut[c.name] = c.endpoint;
    next.spec.endpoints = { ...(spec.endpoints || {}), inbound: inboundOut };
    return {
      resource: next,
      secrets: collected.flatMap((c) => c.secrets),
      trustWrites: collected.flatMap((c) => c.trustWrites),
    };
  };
  const review = ({ resource: r, secrets, trustWrites }) => {
    const dl = h('dl', { class: 'summary' });
    const row = (k, v) => dl.append(h('dt', { text: k }), h('dd', { text: v }));
    row('Name', r.metadata.name);
    row('Enabled', r.spec.enabled ? 'yes' : 'no');
    for (const [n, ep] of Object.entries(r.spec.endpoints.inbound)) {
      row(`Endpoint ${n}`, ep.address);
      row('  authentication', ep.authentication.method);
      if (ep.trustSettings?.trustList) row('  trust list', ep.trustSettings.trustList);
    }
    for (const [k, v] of Object.entries(r.spec.attributes || {})) row(`Property ${k}`, v);
    for (const s of secrets) row('Secret to set', `${s.name} (value hidden)`);
    for (const t of trustWrites) row('Trust list to set', t.list);
    return dl;
  };
  const save = async ({ resource: r, secrets, trustWrites }) => {
    for (const s of secrets) {
      if (!s.name) throw new Error('A secret value was given without a secret name.');
      await api('PUT', `${API}/secrets/${seg(s.name)}`, { raw: s.value, type: 'application/octet-stream' });
    }
    for (const t of trustWrites) {
      await api('PUT', `${API}/trust/${encodeURIComponent(t.list)}`, { raw: t.pem, type: 'application/x-pem-file' });
    }
    if (name) await api('PUT', `${API}/devices/${encodeURIComponent(name)}`, r);
    else await api('POST', `${API}/devices`, r);
    location.hash = '#/devices';
  };
  append(clear(main()), wizard({
    title: name ? `Edit device ${name}` : 'New device', steps, build, review, save, back: '#/devices',
  }));
}

// ---------------------------------------------------------------------------------------
// Assets

async function assetsPage() {
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

function repeatable(container, make, addLabel, id) {
  const add = h('button', { type: 'button', class: 'small', text: addLabel, id, onclick: () => { container.append(make({})); renumber(); } });
  const renumber = () => [...container.children].forEach((c, i) => c.renumber && c.renumber(i));
  container.renumber = renumber;
  return add;
}

function datasetEditor(dataset) {
  const name = text(dataset.name, { placeholder: 'weatherdata', class: 'ds-name' });
  const source = text(dataset.dataSource, { placeholder: '/api/weather', class: 'ds-source' });
  const config = text(dataset.datasetConfiguration, { placeholder: '{"eventTypes": ["reading"]}' });
  let dest;
  const destSlot = h('div');
  const box = h('fieldset', { class: 'dataset' }, h('legend', { text: 'Dataset' }));
  const nameField = field('Name', name);
  const sourceField = field('Data source', source, { hint: 'Path joined to the endpoint address; empty: the address itself.' });
  const configField = field('Dataset configuration (JSON, optional)', config);
  append(box, [h('div', { class: 'grid' }, nameField, sourceField, configField), destSlot,
    h('button', { type: 'button', class: 'small danger', text: 'Remove dataset', onclick: () => { const parent = box.parentElement; box.remove(); parent.renumber(); } })]);
  box.renumber = (i) => {
    const at = index('spec.datasets', i);
    box.dataset.path = at;
    box.classList.add('field');
    nameField.dataset.path = `${at}.name`;
    sourceField.dataset.path = `${at}.dataSource`;
    configField.dataset.path = `${at}.datasetConfiguration`;
    const collected = dest ? dest.collect() : dataset.destinations;
    dest = destinationEditor(collected ? collected[0] : null, `${at}.destinations`);
    clear(destSlot).append(dest);
  };
  box.collect = () => {
    const out = { ...dataset, name: name.value.trim() };
    setOrDelete(out, 'dataSource', source.value.trim());
    setOrDelete(out, 'datasetConfiguration', config.value.trim());
    setOrDelete(out, 'destinations', dest.collect());
    return out;
  };
  return box;
}

function eventEditor(event) {
  const name = text(event.name, { placeholder: 'threshold', class: 'ev-name' });
  const source = text(event.dataSource, { placeholder: 'threshold', class: 'ev-source' });
  let dest;
  const destSlot = h('div');
  const nameField = field('Event name', name);
  const sourceField = field('SSE event identification', source, { hint: 'The SSE event type (the event: field; "message" when absent), or a path starting with "/" for a stream of its own.' });
  const box = h('fieldset', { class: 'event' }, h('legend', { text: 'Event' }),
    h('div', { class: 'grid' }, nameField, sourceField), destSlot,
    h('button', { type: 'button', class: 'small danger', text: 'Remove event', onclick: () => { const parent = box.parentElement; box.remove(); parent.renumber(); } }));
  box.renumber = (i, groupPath) => {
    const at = index(`${groupPath}.events`, i);
    box.dataset.path = at;
    box.classList.add('field');
    nameField.dataset.path = `${at}.name`;
    sourceField.dataset.path = `${at}.dataSource`;
    const collected = dest ? dest.collect() : event.destinations;
    dest = destinationEditor(collected ? collected[0] : null, `${at}.destinations`, { stateStore: false });
    clear(destSlot).append(dest);
  };
  box.collect = () => {
    const out = { ...event, name: name.value.trim() };
    setOrDelete(out, 'dataSource', source.value.trim());
    setOrDelete(out, 'destinations', dest.collect());
    return out;
  };
  return box;
}

function eventGroupEditor(group) {
  const name = text(group.name, { placeholder: 'alerts', class: 'eg-name' });
  const source = text(group.dataSource, { placeholder: '/events', class: 'eg-source' });
  const events = h('div', { class: 'events' });
  let dest;
  const destSlot = h('div');
  const nameField = field('Event group name', name);
  const sourceField = field('Data source', source, { hint: 'The stream its events are read from; empty: the endpoint address.' });
  for (const e of group.events || []) events.append(eventEditor(e));
  const box = h('fieldset', { class: 'event-group' }, h('legend', { text: 'Event group' }),
    h('div', { class: 'grid' }, nameField, sourceField),
    h('h3', { text: 'Default destination of its events' }), destSlot,
    events);
  let groupPath = 'spec.eventGroups[0]';
  events.renumber = () => [...events.children].forEach((c, i) => c.renumber(i, groupPath));
  const addEvent = h('button', { type: 'button', class: 'small add-event', text: 'Add event', onclick: () => { events.append(eventEditor({})); events.renumber(); } });
  append(box, [addEvent, ' ',
    h('button', { type: 'button', class: 'small danger', text: 'Remove event group', onclick: () => { const parent = box.parentElement; box.remove(); parent.renumber(); } })]);
  box.renumber = (i) => {
    groupPath = index('spec.eventGroups', i);
    box.dataset.path = groupPath;
    box.classList.add('field');
    nameField.dataset.path = `${groupPath}.name`;
    sourceField.dataset.path = `${groupPath}.dataSource`;
    const collected = dest ? dest.collect() : group.defaultDestinations;
    dest = destinationEditor(collected ? collected[0] : null, `${groupPath}.defaultDestinations`, { stateStore: false });
    clear(destSlot).append(dest);
    events.renumber();
  };
  box.collect = () => {
    const out = { ...group, name: name.value.trim() };
    setOrDelete(out, 'dataSource', source.value.trim());
    setOrDelete(out, 'defaultDestinations', dest.collect());
    setOrDelete(out, 'events', [...events.children].map((e) => e.collect()));
    return out;
  };
  return box;
}

async function assetEditor(name) {
  const [existing, devices] = await Promise.all([
    name ? api('GET', `${API}/assets/${encodeURIComponent(name)}`) : null,
    api('GET', `${API}/devices`),
  ]);
  const resource = existing || { apiVersion: API_VERSION, kind: 'Asset', metadata: { name: '' }, spec: {} };
  const spec = resource.spec || {};
  const refs = [];
  for (const d of devices.items) {
    const dn = d.metadata?.name || d.name;
    for (const ep of Object.keys(d.spec?.endpoints?.inbound || d.properties?.endpoints?.inbound || {})) refs.push([`${dn}\u0000${ep}`, `${dn} / ${ep}`]);
  }
  const currentRef = spec.deviceRef ? `${spec.deviceRef.deviceName}\u0000${spec.deviceRef.endpointName}` : (refs[0]?.[0] ?? '');
  if (spec.deviceRef && !refs.some(([v]) => v === currentRef)) refs.push([currentRef, `${spec.deviceRef.deviceName} / ${spec.deviceRef.endpointName} (not found)`]);
  const ref = select(refs.length ? refs : [['', 'No device endpoint yet: create a device first']], currentRef, { id: 'asset-endpoint' });
  const nameInput = text(resource.metadata?.name, { placeholder: 'weather', disabled: Boolean(name), id: 'asset-name' });
  const displayName = text(spec.displayName, { placeholder: 'Weather station' });
  const description = text(spec.description);
  const enabled = h('input', { type: 'checkbox', checked: spec.enabled !== false });
  const attributes = keyValues(spec.attributes, 'spec.attributes');
  const defaultDatasets = destinationEditor(spec.defaultDatasetsDestinations?.[0], 'spec.defaultDatasetsDestinations');
  const defaultEvents = destinationEditor(spec.defaultEventsDestinations?.[0], 'spec.defaultEventsDestinations', { stateStore: false });
  const datasets = h('div', { id: 'datasets' });
  for (const d of spec.datasets || []) datasets.append(datasetEditor(d));
  const groups = h('div', { id: 'event-groups' });
  for (const g of spec.eventGroups || []) groups.append(eventGroupEditor(g));
  const addDataset = repeatable(datasets, datasetEditor, 'Add dataset', 'add-dataset');
  const addGroup = repeatable(groups, eventGroupEditor, 'Add event group', 'add-event-group');
  datasets.renumber();
  groups.renumber();
  const steps = [
    h('fieldset', {}, h('legend', { text: 'Asset' }),
      h('div', { class: 'grid' },
        field('Device endpoint', ref, { path: 'spec.deviceRef', hint: 'The SSE server the asset reads from.' }),
        field('Name', nameInput, { path: 'metadata.name', hint: 'Lowercase letters, digits, "-" and ".".' }),
        field('Display name', displayName, { path: 'spec.displayName' }),
        field('Description', description, { path: 'spec.description' }),
        h('div', { class: 'field', dataset: { path: 'spec.enabled' } }, h('label', { text: 'Enabled' }),
          h('label', { class: 'inline' }, enabled, 'Forward its events')))),
    h('fieldset', {}, h('legend', { text: 'Custom properties' }), attributes),
    h('fieldset', {}, h('legend', { text: 'Default destinations' }),
      h('div', { class: 'columns' },
        h('div', {}, h('h3', { text: 'Datasets' }), defaultDatasets),
        h('div', {}, h('h3', { text: 'Events' }), defaultEvents))),
    h('h2', { text: 'Datasets' }),
    h('p', { class: 'hint', text: 'A dataset reads the stream at address + data source and forwards every event on it.' }),
    datasets, addDataset,
    h('h2', { text: 'Event groups' }),
    h('p', { class: 'hint', text: 'An event group reads one stream; each of its events picks the SSE events of one type.' }),
    groups, addGroup,
  ];
  const build = () => {
    const next = structuredClone(resource);
    next.metadata = { ...(next.metadata || {}), name: nameInput.value.trim() };
    const s = { ...spec };
    const [deviceName, endpointName] = ref.value.split('\u0000');
    s.deviceRef = { ...(spec.deviceRef || {}), deviceName: deviceName || '', endpointName: endpointName || '' };
    s.enabled = enabled.checked;
    setOrDelete(s, 'displayName', displayName.value.trim());
    setOrDelete(s, 'description', description.value.trim());
    setOrDelete(s, 'attributes', attributes.collect());
    setOrDelete(s, 'defaultDatasetsDestinations', defaultDatasets.collect());
    setOrDelete(s, 'defaultEventsDestinations', defaultEvents.collect());
    setOrDelete(s, 'datasets', [...datasets.children].map((d) => d.collect()));
    setOrDelete(s, 'eventGroups', [...groups.children].map((g) => g.collect()));
    next.spec = s;
    return { resource: next };
  };
  const review = ({ resource: r }) => {
    const dl = h('dl', { class: 'summary' });
    const row = (k, v) => dl.append(h('dt', { text: k }), h('dd', { text: v }));
    const sp = r.spec;
    row('Name', r.metadata.name);
    row('Device endpoint', `${sp.deviceRef.deviceName} / ${sp.deviceRef.endpointName}`);
    row('Enabled', sp.enabled ? 'yes' : 'no');
    for (const [k, v] of Object.entries(sp.attributes || {})) row(`Property ${k}`, v);
    row('Default dataset destination', describeDestination(sp.defaultDatasetsDestinations?.[0]) || '—');
    row('Default event destination', describeDestination(sp.defaultEventsDestinations?.[0]) || '—');
    for (const d of sp.datasets || []) row(`Dataset ${d.name}`, `${d.dataSource || '(address)'} → ${describeDestination(d.destinations?.[0]) || 'default'}`);
    for (const g of sp.eventGroups || []) {
      row(`Event group ${g.name}`, `${g.dataSource || '(address)'} → ${describeDestination(g.defaultDestinations?.[0]) || 'default'}`);
      for (const e of g.events || []) row(`  event ${e.name}`, `SSE event ${e.dataSource || e.name} → ${describeDestination(e.destinations?.[0]) || 'default'}`);
    }
    return dl;
  };
  const save = async ({ resource: r }) => {
    if (name) await api('PUT', `${API}/assets/${encodeURIComponent(name)}`, r);
    else await api('POST', `${API}/assets`, r);
    location.hash = `#/assets/${encodeURIComponent(r.metadata.name)}`;
  };
  append(clear(main()), wizard({
    title: name ? `Edit asset ${name}` : 'New asset', steps, build, review, save, back: '#/assets',
  }));
}

// ---------------------------------------------------------------------------------------
// The asset page: health of each part, schemas, live tail

/** Reads an SSE response body: calls `onEvent({event, id, data})` per event. */
async function readEventStream(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = { event: 'message', id: '', data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === '') {
        if (event.data.length) onEvent({ event: event.event, id: event.id, data: event.data.join('\n') });
        event = { event: 'message', id: '', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let v = colon < 0 ? '' : line.slice(colon + 1);
      if (v.startsWith(' ')) v = v.slice(1);
      if (field === 'event') event.event = v;
      else if (field === 'id') event.id = v;
      else if (field === 'data') event.data.push(v);
    }
  }
}

let pageCleanup = [];

function healthRows(asset, state) {
  const spec = asset.spec || asset.properties || {};
  const st = state?.status || {};
  const hl = state?.health || {};
  const rows = [];
  const error = (e) => (e ? `${e.code ? `${e.code}: ` : ''}${e.message || ''}` : '');
  rows.push(h('tr', {}, h('td', { text: 'Asset' }), h('td', { text: asset.metadata?.name }), h('td', { text: '' }), h('td', { text: '' }),
    h('td', {}, st.config?.error ? badge('error') : badge(hl.status)), h('td', { text: error(st.config?.error) || hl.message || '' }),
    h('td', { class: 'muted', text: hl.lastUpdateTime || '' })));
  (spec.datasets || []).forEach((d) => {
    const s = (st.datasets || []).find((x) => x.name === d.name) || {};
    const r = (hl.datasets || []).find((x) => x.datasetName === d.name)?.runtimeHealth || {};
    rows.push(h('tr', { dataset: { part: `dataset/${d.name}` } }, h('td', { text: 'Dataset' }), h('td', { text: d.name }),
      h('td', { class: 'wrap', text: d.dataSource || '(address)' }), h('td', { class: 'wrap', text: describeDestination(d.destinations?.[0]) || 'default' }),
      h('td', {}, s.error ? badge('error') : badge(r.status)),
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
      h('td', { text: [error(s.error), r.reasonCode, r.message].filter(Boolean).join(' — ') }),
      h('td', { class: 'muted', text: r.lastUpdateTime || '' })));
  }));
  return rows;
}

function schemaReferences(state) {
  const refs = [];
  for (const d of state?.status?.datasets || []) if (d.messageSchemaReference) refs.push([`dataset ${d.name}`, d.messageSchemaReference]);
  for (const g of state?.status?.eventGroups || []) {
    for (const e of g.events || []) if (e.messageSchemaReference) refs.push([`event ${g.name}/${e.name}`, e.messageSchemaReference]);
  }
  return refs;
}

async function assetPage(name) {
  const [asset, status] = await Promise.all([
    api('GET', `${API}/assets/${encodeURIComponent(name)}`),
    optional(`${API}/status`, null),
  ]);
  const spec = asset.spec || asset.properties || {};
  const stateOf = (s) => (s?.assets || []).find((a) => a.name === name);
  const headBadge = h('span');
  const healthBody = h('tbody');
  const problemsBox = h('div');
  const refresh = (s) => {
    const state = stateOf(s);
    drawSchemas(state);
    clear(headBadge).append(badge(state?.health?.status));
    clear(healthBody);
    append(healthBody, healthRows(asset, state));
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
      try { refresh(await api('GET', `${API}/status`)); } catch { /* keep the last view */ }
    }, 5000);
    pageCleanup.push(() => clearInterval(timer));
  }

  // Schemas: the ones the status says each part's messages carry; redrawn when that changes.
  const schemaBox = h('div', { id: 'schemas' });
  let schemaKey = null;
  const drawSchemas = (state) => {
    const refs = schemaReferences(state);
    const drawn = JSON.stringify(refs);
    if (drawn === schemaKey) return;
    schemaKey = drawn;
    const rows = refs.map(([part, ref]) => {
      const pre = h('pre', { class: 'json' });
      const contentRow = h('tr', { class: 'schema-content', hidden: true }, h('td', { colspan: 3 }, pre));
      const button = h('button', { type: 'button', class: 'small', text: 'Show', onclick: async () => {
        if (!contentRow.hidden) { contentRow.hidden = true; button.textContent = 'Show'; return; }
        try {
          const schema = await api('GET', `${API}/schemas/${encodeURIComponent(ref.schemaName)}/${encodeURIComponent(ref.schemaVersion)}`);
          let content = schema.schemaContent;
          try { content = JSON.stringify(JSON.parse(content), null, 2); } catch { /* as is */ }
          pre.textContent = content;
        } catch (error) {
          pre.textContent = error.message;
        }
        contentRow.hidden = false;
        button.textContent = 'Hide';
      } });
      return [h('tr', {}, h('td', { text: part }),
        h('td', { class: 'mono wrap', text: `aio-sr://${ref.schemaRegistryNamespace}/${ref.schemaName}:${ref.schemaVersion}` }),
        h('td', {}, button)),
      contentRow];
    });
    clear(schemaBox).append(refs.length ? table(['Part', 'Schema', ''], rows.flat(), '')
      : h('p', { class: 'muted', text: 'No schema registered yet: a schema is inferred from the first messages of each part.' }));
  };

  refresh(status);

  // Live tail.
  const tailBody = h('tbody');
  const count = h('span', { id: 'tail-count', text: '0 messages' });
  const dot = h('span', { class: 'live-dot' });
  const tailState = h('span', { class: 'muted', id: 'tail-state', text: 'connecting…' });
  let received = 0;
  let controller = null;
  const addRow = (m, id) => {
    const operation = m.operation.startsWith(`${name}/`) ? m.operation.slice(name.length + 1) : m.operation;
    const payload = m.payloadBase64 ? `(base64) ${m.payload}` : m.payload;
    const row = h('tr', { class: 'fresh', dataset: { id } },
      h('td', { class: 'muted', text: (m.time || '').replace('T', ' ').replace(/\.\d+Z$|Z$/, '') }),
      h('td', { text: operation }), h('td', { text: m.sseEvent }), h('td', { text: m.sseId }),
      h('td', { class: 'wrap', text: m.destination }),
      h('td', { class: 'payload', text: payload.length > 600 ? `${payload.slice(0, 600)}…` : payload, title: m.contentType }));
    tailBody.prepend(row);
    while (tailBody.children.length > TAIL_ROWS) tailBody.lastChild.remove();
    received += 1;
    count.textContent = `${received} message${received === 1 ? '' : 's'}`;
  };
  const start = async () => {
    controller = new AbortController();
    const signal = controller.signal;
    for (let attempt = 0; !signal.aborted; attempt += 1) {
      try {
        const response = await fetch(`${API}/assets/${encodeURIComponent(name)}/tail`, { headers: { ...authHeaders(), Accept: 'text/event-stream' }, signal });
        if (response.status === 401) { await askToken(); continue; }
        if (!response.ok) { tailState.textContent = `unavailable (HTTP ${response.status})`; return; }
        dot.classList.add('on');
        tailState.textContent = 'live';
        attempt = 0;
        await readEventStream(response, (ev) => {
          if (ev.event === 'message') addRow(JSON.parse(ev.data), ev.id);
          else if (ev.event === 'lagged') {
            // The feed fell behind somewhere between the connector and this page, and lost
            // the oldest messages: say how many, in place of them.
            const { skipped } = JSON.parse(ev.data);
            const text = `${skipped} message${skipped === 1 ? '' : 's'} skipped: the view fell behind`;
            tailBody.prepend(h('tr', { class: 'lagged' }, h('td', { colspan: 6, class: 'muted', text })));
          }
        });
      } catch (error) {
        if (signal.aborted) break;
        if (error.status === 401) { tailState.textContent = 'stopped: the API token is needed'; return; }
      }
      dot.classList.remove('on');
      tailState.textContent = 'reconnecting…';
      await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** attempt, 10000)));
    }
    dot.classList.remove('on');
    tailState.textContent = 'paused';
  };
  const pause = h('button', { type: 'button', class: 'small', text: 'Pause', id: 'tail-toggle', onclick: () => {
    if (controller && !controller.signal.aborted) { controller.abort(); pause.textContent = 'Resume'; } else { pause.textContent = 'Pause'; start(); }
  } });
  pageCleanup.push(() => controller && controller.abort());

  append(clear(main()), [
    h('h1', {}, h('span', { text: spec.displayName || name }), headBadge,
      h('a', { class: 'button small', href: `#/assets/${encodeURIComponent(name)}/edit`, text: 'Edit' })),
    h('p', { class: 'muted' }, `Asset ${name} · device `, h('a', { href: `#/devices/${encodeURIComponent(spec.deviceRef?.deviceName || '')}/edit`, text: spec.deviceRef?.deviceName || '?' }),
      ` · endpoint ${spec.deviceRef?.endpointName || '?'}`),
    problemsBox,
    h('h2', { text: 'Health' }),
    h('div', { class: 'table-card' }, h('table', { id: 'health' },
      h('thead', {}, h('tr', {}, ['Part', 'Name', 'Source', 'Destination', 'Health', 'Details', 'Updated'].map((x) => h('th', { text: x })))), healthBody)),
    h('h2', {}, dot, 'Live messages'),
    h('div', { class: 'toolbar' }, count, tailState, h('span', { class: 'spacer' }), pause,
      h('button', { type: 'button', class: 'small', text: 'Clear', onclick: () => { clear(tailBody); received = 0; count.textContent = '0 messages'; } })),
    h('div', { class: 'table-card tail' }, h('table', { id: 'tail' },
      h('thead', {}, h('tr', {}, ['Time', 'Part', 'SSE event', 'SSE id', 'Destination', 'Payload'].map((x) => h('th', { text: x })))), tailBody)),
    h('h2', { text: 'Schemas' }), schemaBox,
  ]);
  start();
}

// ---------------------------------------------------------------------------------------
// Routing

async function connectorLine() {
  try {
    const status = await optional(`${API}/status`, null);
    const c = status?.connector;
    const el = document.getElementById('connector');
    if (c && el) {
      el.textContent = `${c.instance || ''} · v${c.version || '?'} · broker ${c.broker?.connected ? 'connected' : 'disconnected'}`;
    }
  } catch { /* the line stays empty */ }
}

async function render() {
  for (const cleanup of pageCleanup) cleanup();
  pageCleanup = [];
  const parts = (location.hash.replace(/^#\/?/, '') || 'devices').split('/').map(decodeURIComponent);
  for (const id of ['nav-devices', 'nav-assets']) document.getElementById(id).classList.toggle('active', id === `nav-${parts[0]}`);
  try {
    if (parts[0] === 'devices' && parts[1] === 'new') await deviceEditor(null);
    else if (parts[0] === 'devices' && parts[1] && parts[2] === 'edit') await deviceEditor(parts[1]);
    else if (parts[0] === 'assets' && parts[1] === 'new') await assetEditor(null);
    else if (parts[0] === 'assets' && parts[1] && parts[2] === 'edit') await assetEditor(parts[1]);
    else if (parts[0] === 'assets' && parts[1]) await assetPage(parts[1]);
    else if (parts[0] === 'assets') await assetsPage();
    else await devicesPage();
  } catch (error) {
    append(clear(main()), h('div', { class: 'problems', role: 'alert' },
      h('strong', { text: 'The connector answered with an error.' }), h('p', { text: error.message })));
  }
}

window.addEventListener('hashchange', render);
render();
connectorLine();
