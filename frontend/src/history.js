// The history panel: browse past versions (GET /api/docs/{id}?version=N,
// times from GET /api/docs/{id}/ops) and restore one by submitting the
// difference from the current text as an ordinary edit, so collaborators see
// the restore live and it can itself be undone.
import { offsets } from '@cowrite/client';
import { api, docPath } from './rest.js';
import { h, relativeTime } from './dom.js';

const { lineDiffOp, opToChanges } = offsets;

export function setupHistory({ docId, view, panel, button, headVersion, showBanner }) {
  const slider = h('input', { type: 'range', min: 0, max: 0, value: 0, id: 'history-slider', 'data-testid': 'history-slider' });
  const label = h('p', { class: 'muted', 'aria-live': 'polite', 'data-testid': 'history-label' });
  const preview = h('pre', { class: 'history-preview', tabindex: 0, 'aria-label': 'Content at the selected version', 'data-testid': 'history-preview' });
  const prev = h('button', { type: 'button', 'aria-label': 'Previous version', 'data-testid': 'history-prev' }, '‹');
  const next = h('button', { type: 'button', 'aria-label': 'Next version', 'data-testid': 'history-next' }, '›');
  const restore = h('button', { type: 'button', class: 'primary', 'data-testid': 'history-restore' }, 'Restore this version');
  panel.append(
    h('h2', {}, 'History'),
    h('label', { for: 'history-slider' }, 'Version'),
    h('div', { class: 'history-nav' }, prev, slider, next),
    label,
    preview,
    restore,
  );
  let times = new Map();
  let loaded = null; // {version, content}
  let timer = 0;

  async function open() {
    const head = headVersion();
    slider.max = String(head);
    slider.value = String(head);
    times = new Map();
    try {
      const from = Math.max(0, head - 1000);
      const data = await api('GET', `${docPath(docId)}/ops?from=${from}&to=${head}&limit=1000`);
      for (const o of data?.ops ?? []) times.set(o.version, o.time);
    } catch {
      /* times are optional */
    }
    show(head);
  }

  async function show(v) {
    v = Math.max(0, Math.min(Number(slider.max), v));
    slider.value = String(v);
    const t = times.get(v);
    label.textContent = `Version ${v} of ${slider.max}${t ? ` · ${relativeTime(t)}` : ''}`;
    restore.disabled = true;
    try {
      const meta = await api('GET', `${docPath(docId)}?version=${v}`);
      if (Number(slider.value) !== v) return;
      loaded = { version: v, content: meta.content ?? '' };
      preview.textContent = loaded.content;
      restore.disabled = false;
    } catch (e) {
      preview.textContent = '';
      label.textContent = `Version ${v}: ${e.message}`;
    }
  }

  button.addEventListener('click', () => {
    const openNow = panel.hidden;
    panel.hidden = !openNow;
    button.setAttribute('aria-expanded', String(openNow));
    if (openNow) open().then(() => slider.focus());
  });
  slider.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => show(Number(slider.value)), 120);
  });
  prev.addEventListener('click', () => show(Number(slider.value) - 1));
  next.addEventListener('click', () => show(Number(slider.value) + 1));
  restore.addEventListener('click', () => {
    if (!loaded) return;
    const cur = view.state.doc.toString();
    const op = lineDiffOp(cur, loaded.content); // unchanged lines stay: collaborators' cursors do not jump
    if (op.length === 0) return showBanner(`The document already matches version ${loaded.version}.`);
    // An ordinary local edit: goes through OT and reaches collaborators live.
    view.dispatch({ changes: opToChanges(cur, op), userEvent: 'history.restore', scrollIntoView: true });
    showBanner('');
    label.textContent = `Restored version ${loaded.version}.`;
  });
}
