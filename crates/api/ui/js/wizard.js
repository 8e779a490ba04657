// The form / review / save steps shared by the device and asset editors.

import { append, clear, h } from './dom.js';
import { showProblems } from './form.js';

/** The form / review steps shared by both editors. */
export function wizard({ title, steps, build, review, save, back }) {
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
