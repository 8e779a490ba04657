// The asset editor: the asset, its default destinations, datasets and event groups with
// their events, and the transform of each dataset and event.

import { api, API, API_VERSION, optional } from './api.js';
import { append, clear, h } from './dom.js';
import { describeDestination, destinationEditor } from './destination.js';
import { field, index, keyValues, select, setOrDelete, text } from './form.js';
import { main } from './page.js';
import { transformField, transformOf } from './transform-field.js';
import { wizard } from './wizard.js';

/** An "Add" button that appends `make({})` to `container`; `container.renumber()` gives each
 *  part its index (and so its field paths). */
function repeatable(container, make, addLabel, id) {
  const add = h('button', { type: 'button', class: 'small', text: addLabel, id, onclick: () => { container.append(make({})); renumber(); } });
  const renumber = () => [...container.children].forEach((c, i) => c.renumber && c.renumber(i));
  container.renumber = renumber;
  return add;
}

/** The graphs and modules transforms can use, for the editors of this page. */
let catalogue = { graphs: [], modules: [] };

function datasetEditor(dataset) {
  const name = text(dataset.name, { placeholder: 'weatherdata', class: 'ds-name' });
  const source = text(dataset.dataSource, { placeholder: '/api/weather', class: 'ds-source' });
  const transform = transformField(dataset.datasetConfiguration, catalogue);
  const config = text(transform.rest, { placeholder: '{"eventTypes": ["reading"]}', class: 'ds-config' });
  let dest;
  const destSlot = h('div');
  const box = h('fieldset', { class: 'dataset' }, h('legend', { text: 'Dataset' }));
  const nameField = field('Name', name);
  const sourceField = field('Data source', source, { hint: 'Path joined to the endpoint address; empty: the address itself.' });
  const configField = field('Dataset configuration (JSON, optional)', config);
  append(box, [h('div', { class: 'grid' }, nameField, sourceField, configField), destSlot, transform,
    h('button', { type: 'button', class: 'small danger', text: 'Remove dataset', onclick: () => { const parent = box.parentElement; box.remove(); parent.renumber(); } })]);
  box.renumber = (i) => {
    const at = index('spec.datasets', i);
    box.dataset.path = at;
    box.classList.add('field');
    nameField.dataset.path = `${at}.name`;
    sourceField.dataset.path = `${at}.dataSource`;
    configField.dataset.path = `${at}.datasetConfiguration`;
    box.configPath = `${at}.datasetConfiguration`;
    transform.renumber(box.configPath);
    const collected = dest ? dest.collect() : dataset.destinations;
    dest = destinationEditor(collected ? collected[0] : null, `${at}.destinations`);
    clear(destSlot).append(dest);
  };
  box.collect = () => {
    const out = { ...dataset, name: name.value.trim() };
    setOrDelete(out, 'dataSource', source.value.trim());
    setOrDelete(out, 'datasetConfiguration', transform.collect(config.value, `Dataset ${out.name || box.dataset.path}`));
    setOrDelete(out, 'destinations', dest.collect());
    return out;
  };
  box.graph = transform.graph;
  return box;
}

function eventEditor(event) {
  const name = text(event.name, { placeholder: 'threshold', class: 'ev-name' });
  const source = text(event.dataSource, { placeholder: 'threshold', class: 'ev-source' });
  let dest;
  const destSlot = h('div');
  const nameField = field('Event name', name);
  const sourceField = field('SSE event identification', source, { hint: 'The SSE event type (the event: field; "message" when absent), or a path starting with "/" for a stream of its own.' });
  const transform = transformField(event.eventConfiguration, catalogue);
  const box = h('fieldset', { class: 'event' }, h('legend', { text: 'Event' }),
    h('div', { class: 'grid' }, nameField, sourceField), destSlot, transform,
    h('button', { type: 'button', class: 'small danger', text: 'Remove event', onclick: () => { const parent = box.parentElement; box.remove(); parent.renumber(); } }));
  box.renumber = (i, groupPath) => {
    const at = index(`${groupPath}.events`, i);
    box.dataset.path = at;
    box.classList.add('field');
    nameField.dataset.path = `${at}.name`;
    sourceField.dataset.path = `${at}.dataSource`;
    box.configPath = `${at}.eventConfiguration`;
    transform.renumber(box.configPath);
    const collected = dest ? dest.collect() : event.destinations;
    dest = destinationEditor(collected ? collected[0] : null, `${at}.destinations`, { stateStore: false });
    clear(destSlot).append(dest);
  };
  box.collect = () => {
    const out = { ...event, name: name.value.trim() };
    setOrDelete(out, 'dataSource', source.value.trim());
    setOrDelete(out, 'eventConfiguration', transform.collect(transform.rest, `Event ${out.name || box.dataset.path}`));
    setOrDelete(out, 'destinations', dest.collect());
    return out;
  };
  box.graph = transform.graph;
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

export async function assetEditor(name) {
  const [existing, devices, transforms] = await Promise.all([
    name ? api('GET', `${API}/assets/${encodeURIComponent(name)}`) : null,
    api('GET', `${API}/devices`),
    optional(`${API}/transforms`, { graphs: [], modules: [] }),
  ]);
  catalogue = transforms;
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
    const transformRow = (what, configuration) => {
      const t = transformOf(configuration);
      if (t) row(`  transform of ${what}`, `${t.graph}, on error ${t.onError || 'drop'}`);
    };
    for (const d of sp.datasets || []) {
      row(`Dataset ${d.name}`, `${d.dataSource || '(address)'} → ${describeDestination(d.destinations?.[0]) || 'default'}`);
      transformRow(d.name, d.datasetConfiguration);
    }
    for (const g of sp.eventGroups || []) {
      row(`Event group ${g.name}`, `${g.dataSource || '(address)'} → ${describeDestination(g.defaultDestinations?.[0]) || 'default'}`);
      for (const e of g.events || []) {
        row(`  event ${e.name}`, `SSE event ${e.dataSource || e.name} → ${describeDestination(e.destinations?.[0]) || 'default'}`);
        transformRow(e.name, e.eventConfiguration);
      }
    }
    return dl;
  };
  // A graph's problems are reported on its file, at `transform.graph`: shown next to the
  // graph field of each dataset or event that chose that graph.
  const locate = (problems) => problems.flatMap((p) => {
    if (!(p.path || '').startsWith('transform')) return [p];
    const parts = [...document.querySelectorAll('fieldset.dataset, fieldset.event')].filter((b) => b.graph && b.graph() === p.file);
    return parts.length ? parts.map((b) => ({ ...p, path: `${b.configPath}.${p.path}` })) : [p];
  });
  const save = async ({ resource: r }) => {
    try {
      if (name) await api('PUT', `${API}/assets/${encodeURIComponent(name)}`, r);
      else await api('POST', `${API}/assets`, r);
    } catch (error) {
      if (error.problems) error.problems = locate(error.problems);
      throw error;
    }
    location.hash = `#/assets/${encodeURIComponent(r.metadata.name)}`;
  };
  append(clear(main()), wizard({
    title: name ? `Edit asset ${name}` : 'New asset', steps, build, review, save, back: '#/assets',
  }));
}
