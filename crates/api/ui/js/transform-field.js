// The transform of a dataset or an event: the `transform` key of its configuration JSON
// (`{"transform": {"graph", "configuration", "onError"}}`), edited with the graphs the
// registry holds (GET /api/v1/transforms). The configuration's other keys are kept.

import { h } from './dom.js';
import { field, select } from './form.js';

const ON_ERROR = [
  ['drop', 'Drop the event (default)'],
  ['deadLetter', 'Write it to the dead-letter file'],
  ['passThrough', 'Publish it untransformed'],
];

/** A configuration string as an object, or null when it is not a JSON object. */
function parseObject(text) {
  const trimmed = (text || '').trim();
  if (!trimmed) return {};
  try {
    const value = JSON.parse(trimmed);
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** What the graph's operations need, for the hint and the configuration's template. */
function describe(graph) {
  if (!graph) return '';
  const ops = graph.operations.filter((o) => o.module);
  const parts = ops.map((o) => {
    const params = o.parameters.map((p) => `${p.name}${p.required ? ' (required)' : ''}`).join(', ');
    const missing = o.present === false ? `, module ${o.moduleFile} missing` : '';
    return `${o.name}: ${o.operationType} ${o.module}${params ? ` [${params}]` : ''}${missing}`;
  });
  const problems = graph.problems.length ? ` Not usable: ${graph.problems.join('; ')}` : '';
  return `${parts.join(' · ')}${problems}`;
}

function template(graph) {
  const out = {};
  for (const o of graph?.operations || []) {
    const required = o.parameters.filter((p) => p.required);
    if (required.length) out[o.name] = Object.fromEntries(required.map((p) => [p.name, '']));
  }
  return Object.keys(out).length ? JSON.stringify(out, null, 2) : '';
}

/** The transform editor of one configuration string. `catalogue`: the answer of
 *  GET /api/v1/transforms. Answers the element, with `rest` (the configuration without its
 *  transform, for a raw field), `renumber(configPath)`, `graph()` (the chosen graph) and
 *  `collect(rest, what)`, which gives the configuration string to save (throws, naming
 *  `what`, when the configuration is not valid JSON). */
export function transformField(configuration, catalogue) {
  const parsed = parseObject(configuration);
  const current = parsed && parsed.transform && typeof parsed.transform === 'object' ? parsed.transform : null;
  const graphs = catalogue?.graphs || [];
  const options = [['', 'None'], ...graphs.map((g) => [g.path, g.problems.length ? `${g.path} (not usable)` : g.path])];
  if (current?.graph && !graphs.some((g) => g.path === current.graph)) options.push([current.graph, `${current.graph} (not found)`]);
  const graph = select(options, current?.graph || '', { class: 'tf-graph' });
  const onError = select(ON_ERROR, current?.onError || 'drop', { class: 'tf-on-error' });
  const params = h('textarea', {
    class: 'tf-config',
    value: current?.configuration ? JSON.stringify(current.configuration, null, 2) : '',
    placeholder: '{"operation": {"parameter": "value"}}',
  });
  const hint = h('div', { class: 'hint' });
  const graphField = field('Graph', graph, { hint: 'A graph definition of the registry\'s graphs/ folder; its modules are in modules/.' });
  const onErrorField = field('When the transform fails', onError);
  const paramsField = field('Configuration (JSON: parameters per operation)', params);
  const details = h('div', { class: 'grid' }, onErrorField, paramsField);
  const chosen = () => graphs.find((g) => g.path === graph.value);
  const show = () => {
    details.hidden = !graph.value;
    hint.textContent = describe(chosen());
  };
  graph.addEventListener('change', () => {
    if (!params.value.trim()) params.value = template(chosen());
    show();
  });
  show();
  const box = h('fieldset', { class: 'transform' }, h('legend', { text: 'Transform' }),
    graphField, hint, details);
  // Without a transform key (or when the text is not an object) the raw text is kept as is.
  if (parsed && current) {
    const rest = { ...parsed };
    delete rest.transform;
    box.rest = Object.keys(rest).length ? JSON.stringify(rest) : '';
  } else {
    box.rest = configuration || '';
  }
  box.graph = () => graph.value;
  box.renumber = (configPath) => {
    box.dataset.path = `${configPath}.transform`;
    box.classList.add('field');
    graphField.dataset.path = `${configPath}.transform.graph`;
    onErrorField.dataset.path = `${configPath}.transform.onError`;
    paramsField.dataset.path = `${configPath}.transform.configuration`;
  };
  box.collect = (rest, what) => {
    if (!graph.value) return (rest || '').trim();
    const base = parseObject(rest);
    if (!base) throw new Error(`${what}: the configuration must be a JSON object to hold a transform`);
    const transform = { graph: graph.value };
    const text = params.value.trim();
    if (text) {
      let value;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw new Error(`${what}: the transform's configuration is not JSON (${error.message})`);
      }
      const isObject = (v) => v && typeof v === 'object' && !Array.isArray(v);
      if (!isObject(value) || !Object.values(value).every(isObject)) {
        throw new Error(`${what}: the transform's configuration maps operation names to objects of parameters`);
      }
      transform.configuration = value;
    }
    if (onError.value !== 'drop') transform.onError = onError.value;
    return JSON.stringify({ ...base, transform });
  };
  return box;
}

/** The graph of a configuration string's transform, if any (for the review). */
export function transformOf(configuration) {
  const parsed = parseObject(configuration);
  return parsed?.transform?.graph ? parsed.transform : null;
}
