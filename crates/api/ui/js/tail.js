// The live tail of an asset's messages: GET /api/v1/assets/{name}/tail read as an event
// stream with the token (an EventSource cannot send it), newest first, reconnecting with
// backoff. The last BUFFER messages are kept: the view filters them by part (dataset or
// event) and by text, pausing freezes the view while the buffer goes on filling (resuming
// shows what came), and messages the feed dropped (a `lagged` event) are counted.

import { API, askToken, authHeaders } from './api.js';
import { clear, h } from './dom.js';
import { onLeave } from './page.js';

/** Rows shown in the table. */
const TAIL_ROWS = 200;

/** Messages kept for the filters and for a pause. */
const BUFFER = 1000;

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
 *  `parts`: the operations' names below the asset (`datasets/NAME`,
 *  `eventGroups/GROUP/events/NAME`), offered by the part filter. Leaving the page stops it. */
export function liveTail(name, parts = []) {
  const tailBody = h('tbody');
  const count = h('span', { id: 'tail-count', text: '0 messages' });
  const lag = h('span', { id: 'tail-lag', class: 'muted', text: '0 dropped', title: 'Messages the feed skipped because this view fell behind' });
  const waiting = h('span', { id: 'tail-waiting', class: 'muted' });
  const dot = h('span', { class: 'live-dot' });
  const tailState = h('span', { class: 'muted', id: 'tail-state', text: 'connecting…' });
  const partFilter = h('select', { id: 'tail-part', 'aria-label': 'Show the messages of', onchange: () => redraw() },
    h('option', { value: '', text: 'All datasets and events' }),
    parts.map((p) => h('option', { value: p, text: p })));
  const textFilter = h('input', { type: 'search', id: 'tail-filter', placeholder: 'Filter by text', 'aria-label': 'Filter the messages by text', oninput: () => redraw() });
  /** Newest last: `{message, id}` or `{skipped}`. */
  let buffer = [];
  let received = 0;
  let dropped = 0;
  let paused = false;
  let sincePause = 0;
  let controller = null;
  const partOf = (m) => (m.operation.startsWith(`${name}/`) ? m.operation.slice(name.length + 1) : m.operation);
  const matches = (item) => {
    if (item.skipped !== undefined) return true;
    const m = item.message;
    if (partFilter.value && partOf(m) !== partFilter.value) return false;
    const text = textFilter.value.trim().toLowerCase();
    if (!text) return true;
    return [m.payload, m.sseEvent, m.sseId, m.destination, m.operation].some((x) => (x || '').toLowerCase().includes(text));
  };
  const row = (item, fresh) => {
    if (item.skipped !== undefined) {
      // The feed fell behind somewhere between the connector and this page, and lost the
      // oldest messages: say how many, in place of them.
      const text = `${item.skipped} message${item.skipped === 1 ? '' : 's'} skipped: the view fell behind`;
      return h('tr', { class: 'lagged' }, h('td', { colspan: 6, class: 'muted', text }));
    }
    const m = item.message;
    const payload = m.payloadBase64 ? `(base64) ${m.payload}` : m.payload;
    return h('tr', { class: fresh ? 'fresh' : '', dataset: { id: item.id } },
      h('td', { class: 'muted', text: (m.time || '').replace('T', ' ').replace(/\.\d+Z$|Z$/, '') }),
      h('td', { text: partOf(m) }), h('td', { text: m.sseEvent }), h('td', { text: m.sseId }),
      h('td', { class: 'wrap', text: m.destination }),
      h('td', { class: 'payload', text: payload.length > 600 ? `${payload.slice(0, 600)}…` : payload, title: m.contentType }));
  };
  /** Draws the newest matching items of the buffer. */
  const redraw = () => {
    clear(tailBody);
    const rows = [];
    for (let i = buffer.length - 1; i >= 0 && rows.length < TAIL_ROWS; i -= 1) {
      if (matches(buffer[i])) rows.push(row(buffer[i], false));
    }
    tailBody.append(...rows);
  };
  const add = (item) => {
    buffer.push(item);
    if (buffer.length > BUFFER) buffer = buffer.slice(buffer.length - BUFFER);
    if (paused) {
      sincePause += 1;
      waiting.textContent = `${sincePause} new while paused`;
      return;
    }
    if (!matches(item)) return;
    tailBody.prepend(row(item, true));
    while (tailBody.children.length > TAIL_ROWS) tailBody.lastChild.remove();
  };
  const onMessage = (m, id) => {
    received += 1;
    count.textContent = `${received} message${received === 1 ? '' : 's'}`;
    add({ message: m, id });
  };
  const onLagged = (skipped) => {
    dropped += skipped;
    lag.textContent = `${dropped} dropped`;
    lag.classList.add('lagging');
    add({ skipped });
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
        tailState.textContent = paused ? 'paused' : 'live';
        attempt = 0;
        await readEventStream(response, (ev) => {
          if (ev.event === 'message') onMessage(JSON.parse(ev.data), ev.id);
          else if (ev.event === 'lagged') onLagged(JSON.parse(ev.data).skipped);
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
  };
  // Pausing freezes the view, not the feed: messages keep arriving in the buffer.
  const pause = h('button', { type: 'button', class: 'small', text: 'Pause', id: 'tail-toggle', onclick: () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    tailState.textContent = paused ? 'paused' : 'live';
    if (!paused) {
      sincePause = 0;
      waiting.textContent = '';
      redraw();
    }
  } });
  onLeave(() => controller && controller.abort());
  return {
    nodes: [
      h('h2', {}, dot, 'Live messages'),
      h('div', { class: 'toolbar' }, count, tailState, lag, waiting, h('span', { class: 'spacer' }), pause,
        h('button', { type: 'button', class: 'small', text: 'Clear', onclick: () => {
          buffer = []; clear(tailBody); received = 0; count.textContent = '0 messages';
        } })),
      h('div', { class: 'tail-filters' }, partFilter, textFilter,
        h('span', { class: 'muted', text: `the last ${BUFFER} messages are kept` })),
      h('div', { class: 'table-card tail' }, h('table', { id: 'tail' },
        h('thead', {}, h('tr', {}, ['Time', 'Part', 'SSE event', 'SSE id', 'Destination', 'Payload'].map((x) => h('th', { text: x })))), tailBody)),
    ],
    start,
  };
}
