// What the pages share with the router (app.js): the element they draw in, the cleanups to run
// when the page is left (timers, the live tail), and redrawing the current page.

import { api, API } from './api.js';

export const main = () => document.getElementById('main');

let cleanups = [];
let redraw = () => {};

/** Runs `cleanup` when the page is left. */
export function onLeave(cleanup) {
  cleanups.push(cleanup);
}

/** Runs the cleanups of the page being left (the router calls it before drawing). */
export function leave() {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
}

/** How the current page is drawn again: the router's render. */
export function setRedraw(render) {
  redraw = render;
}

/** Deletes a device or asset after asking, then redraws the page. */
export async function remove(collection, name) {
  if (!window.confirm(`Delete ${name}? Its file is removed from the registry.`)) return;
  try {
    await api('DELETE', `${API}/${collection}/${encodeURIComponent(name)}`);
    redraw();
  } catch (error) {
    const lines = (error.problems || []).map((p) => `${p.resource}: ${p.path}: ${p.message}`);
    window.alert([error.message, ...lines].join('\n'));
  }
}
