// sse-connector web UI: plain ES modules, no framework, no build step. This one routes the
// location's hash to a page; each page is a module of js/, and so are the helpers they share:
//
//   js/api.js            the API client: bearer token, token prompt, errors
//   js/dom.js            building elements (text only, never HTML), badges, tables
//   js/page.js           the main element, cleanups when leaving a page, redraw, delete
//   js/form.js           field paths, problems next to their fields, inputs, key/value rows
//   js/wizard.js         the form / review / save steps of the editors
//   js/destination.js    the destination editor
//   js/sparkline.js      SVG charts: sparklines, the overview's chart, rates in words
//   js/overview.js       #/overview, the landing page (counts, rates, needs attention)
//   js/devices.js        #/devices
//   js/device-editor.js  #/devices/new, #/devices/NAME/edit
//   js/assets.js         #/assets (with each asset's rate)
//   js/asset-editor.js   #/assets/new, #/assets/NAME/edit (datasets, event groups, events)
//   js/asset-page.js     #/assets/NAME (health, problems, live tail, schemas)
//   js/tail.js           the live tail of an asset's messages
//   js/schemas.js        the schemas of an asset's parts

import { API, optional } from './js/api.js';
import { assetEditor } from './js/asset-editor.js';
import { assetPage } from './js/asset-page.js';
import { assetsPage } from './js/assets.js';
import { deviceEditor } from './js/device-editor.js';
import { devicesPage } from './js/devices.js';
import { append, clear, h } from './js/dom.js';
import { overviewPage } from './js/overview.js';
import { leave, main, setRedraw } from './js/page.js';

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
  leave();
  const parts = (location.hash.replace(/^#\/?/, '') || 'overview').split('/').map(decodeURIComponent);
  for (const id of ['nav-overview', 'nav-devices', 'nav-assets']) document.getElementById(id).classList.toggle('active', id === `nav-${parts[0]}`);
  try {
    if (parts[0] === 'devices' && parts[1] === 'new') await deviceEditor(null);
    else if (parts[0] === 'devices' && parts[1] && parts[2] === 'edit') await deviceEditor(parts[1]);
    else if (parts[0] === 'assets' && parts[1] === 'new') await assetEditor(null);
    else if (parts[0] === 'assets' && parts[1] && parts[2] === 'edit') await assetEditor(parts[1]);
    else if (parts[0] === 'assets' && parts[1]) await assetPage(parts[1]);
    else if (parts[0] === 'assets') await assetsPage();
    else if (parts[0] === 'devices') await devicesPage();
    else await overviewPage();
  } catch (error) {
    append(clear(main()), h('div', { class: 'problems', role: 'alert' },
      h('strong', { text: 'The connector answered with an error.' }), h('p', { text: error.message })));
  }
}

setRedraw(render);
window.addEventListener('hashchange', render);
render();
connectorLine();
