// The live tail of an asset's messages: GET /api/v1/assets/{name}/tail read as an event
// stream with the token (an EventSource cannot send it), newest first, reconnecting with
// backoff, pausable.

import { API, askToken, authHeaders } from './api.js';
import { clear, h } from './dom.js';
import { onLeave } from './page.js';

/** Rows kept in the table. */
const TAIL_ROWS = 200;

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

/** The live tail of asset `name`: `nodes` to put in the page, then `start()` to connect.
 *  Leaving the page stops it. */
export function liveTail(name) {
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
  onLeave(() => controller && controller.abort());
  return {
    nodes: [
      h('h2', {}, dot, 'Live messages'),
      h('div', { class: 'toolbar' }, count, tailState, h('span', { class: 'spacer' }), pause,
        h('button', { type: 'button', class: 'small', text: 'Clear', onclick: () => { clear(tailBody); received = 0; count.textContent = '0 messages'; } })),
      h('div', { class: 'table-card tail' }, h('table', { id: 'tail' },
        h('thead', {}, h('tr', {}, ['Time', 'Part', 'SSE event', 'SSE id', 'Destination', 'Payload'].map((x) => h('th', { text: x })))), tailBody)),
    ],
    start,
  };
}
