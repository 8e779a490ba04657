// The device editor: the device, its inbound endpoints (address, authentication with the
// secrets it writes, trust list) and custom properties.

import { api, API, API_VERSION, optional, seg } from './api.js';
import { append, clear, h } from './dom.js';
import { field, key, keyValues, nextId, setOrDelete, text } from './form.js';
import { main } from './page.js';
import { wizard } from './wizard.js';

function endpointEditor(deviceName, epName, ep, existingTrust) {
  // Field paths use the endpoint's current name.
  const base = () => key('spec.endpoints.inbound', nameInput.value.trim() || epName || 'endpoint');
  const nameInput = text(epName, { placeholder: 'sse', class: 'ep-name' });
  const address = h('input', { type: 'url', value: ep.address || '', placeholder: 'https://sensor.example:8443/base', class: 'ep-address' });
  const auth = ep.authentication || {};
  const method = auth.method || 'Anonymous';
  const group = `auth${nextId()}`;
  const radios = ['Anonymous', 'UsernamePassword', 'Certificate'].map((m) =>
    h('label', { class: 'inline' }, h('input', { type: 'radio', name: group, value: m, checked: m === method, class: 'ep-auth' }),
      { Anonymous: 'Anonymous', UsernamePassword: 'Username and password', Certificate: 'Client certificate' }[m]));
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

export async function deviceEditor(name) {
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
