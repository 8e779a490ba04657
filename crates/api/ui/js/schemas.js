// The schemas of an asset's parts, as its status references them, each with its content on
// demand.

import { api, API } from './api.js';
import { clear, h, table } from './dom.js';

/** [part, messageSchemaReference] of every part of the asset's status that has one. */
function schemaReferences(state) {
  const refs = [];
  for (const d of state?.status?.datasets || []) if (d.messageSchemaReference) refs.push([`dataset ${d.name}`, d.messageSchemaReference]);
  for (const g of state?.status?.eventGroups || []) {
    for (const e of g.events || []) if (e.messageSchemaReference) refs.push([`event ${g.name}/${e.name}`, e.messageSchemaReference]);
  }
  return refs;
}

/** The schema list: `box` to put in the page, `draw(state)` to draw it from the asset's
 *  status (again only when the references changed). */
export function schemaList() {
  const box = h('div', { id: 'schemas' });
  let drawnKey = null;
  const draw = (state) => {
    const refs = schemaReferences(state);
    const drawn = JSON.stringify(refs);
    if (drawn === drawnKey) return;
    drawnKey = drawn;
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
    clear(box).append(refs.length ? table(['Part', 'Schema', ''], rows.flat(), '')
      : h('p', { class: 'muted', text: 'No schema registered yet: a schema is inferred from the first messages of each part.' }));
  };
  return { box, draw };
}
