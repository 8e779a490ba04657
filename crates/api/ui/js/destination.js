// The destination editor (default, MQTT topic, state store key, file) and its one-line
// description.

import { h } from './dom.js';
import { field, index, select, text } from './form.js';

/** A destination editor: none (use the default) / Mqtt / BrokerStateStore / Storage. */
export function destinationEditor(destination, path, { allowNone = true, stateStore = true } = {}) {
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

export function describeDestination(d) {
  if (!d) return '';
  const c = d.configuration || {};
  switch (d.target) {
    case 'Mqtt': return `MQTT ${c.topic || '?'} (${c.qos || 'Qos1'}${c.retain === 'Keep' ? ', retained' : ''})`;
    case 'BrokerStateStore': return `state store key ${c.key || '?'}`;
    case 'Storage': return `file ${c.path || '?'}`;
    default: return d.target || '';
  }
}
