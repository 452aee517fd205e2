// The history panel (SPEC.md §8):
//   - named versions (GET/POST/DELETE /api/docs/{id}/versions): name the
//     version shown, view one, restore it;
//   - edit sessions from GET /api/docs/{id}/ops (same author, pauses under
//     30 s: one entry with the author and a relative time);
//   - the version shown, read-only, with its authors' colours along the text
//     (GET …/blame?version=N) and a legend, or, with "Changes since", what
//     changed from it to now (GET …/diff?from=N&to=head), insertions and
//     deletions highlighted;
//   - a slider and ‹ › buttons to step through single versions.
// A restore submits the difference from the current text as an ordinary edit,
// so collaborators see it live and it can itself be undone.
import { offsets } from '@cowrite/client';
import { api, docPath } from './rest.js';
import { h, relativeTime } from './dom.js';
import { groupSessions, blameAuthors, blamePieces, diffPieces, authorHue, authorOf } from './timeline.js';

const { lineDiffOp, opToChanges } = offsets;

/** How many recent ops the sessions are built from. */
const SESSION_OPS = 1000;
/** Sessions listed. */
const SESSIONS_SHOWN = 30;

// An author's colour: their own (presence) colour when known and not taken
// by another author, else one of the palette's hues.
const colours = (c, i) =>
  c ? { tint: `${c}48`, edge: c } : { tint: `hsl(${authorHue(i)} 85% 55% / 0.28)`, edge: `hsl(${authorHue(i)} 75% 45%)` };

/**
 * @param {object} o
 * @param {string} o.docId
 * @param {import('@codemirror/view').EditorView} o.view
 * @param {HTMLElement} o.panel  the (hidden) section to fill
 * @param {HTMLButtonElement} o.button  toggles the panel
 * @param {() => number} o.headVersion  the last version the editor integrated
 * @param {(msg: string) => void} o.showBanner
 * @param {() => string} [o.myName]  sent as X-Cowrite-Name (the author in open mode)
 * @param {(name: string) => string | undefined} [o.colorOf]  a person's own colour (#rrggbb), if known
 * @returns {{changed(): void}} call changed() when the document changed
 */
export function setupHistory({ docId, view, panel, button, headVersion, showBanner, myName = () => '', colorOf = () => undefined }) {
  const path = docPath(docId);
  const nameHeaders = () => {
    const n = myName();
    // Header values are bytes: a non-ASCII name is left to the server's default.
    return n && /^[\x20-\x7e]{1,100}$/.test(n) ? { 'X-Cowrite-Name': n } : undefined;
  };

  // ---- DOM -----------------------------------------------------------------
  const labelInput = h('input', { id: 'version-label', maxlength: 200, placeholder: 'e.g. Sent to Ana', 'data-testid': 'version-label' });
  const nameForm = h(
    'form',
    { class: 'version-form', 'data-testid': 'version-form' },
    h('label', { for: 'version-label' }, 'Name this version'),
    h('div', { class: 'row' }, labelInput, h('button', { type: 'submit', 'data-testid': 'version-save' }, 'Save')),
  );
  const namedList = h('ul', { class: 'versions', 'data-testid': 'versions-list', 'aria-label': 'Named versions' });
  const sessionList = h('ol', { class: 'sessions', 'data-testid': 'sessions-list', 'aria-label': 'Edit sessions' });
  const slider = h('input', { type: 'range', min: 0, max: 0, value: 0, id: 'history-slider', 'data-testid': 'history-slider' });
  const label = h('p', { class: 'muted', 'aria-live': 'polite', 'data-testid': 'history-label' });
  const prev = h('button', { type: 'button', 'aria-label': 'Previous version', 'data-testid': 'history-prev' }, '‹');
  const next = h('button', { type: 'button', 'aria-label': 'Next version', 'data-testid': 'history-next' }, '›');
  const modeAuthors = h('button', { type: 'button', 'aria-pressed': 'true', 'data-testid': 'history-mode-authors' }, 'Authors');
  const modeDiff = h('button', { type: 'button', 'aria-pressed': 'false', 'data-testid': 'history-mode-diff' }, 'Changes since');
  const legend = h('ul', { class: 'legend', 'data-testid': 'blame-legend', 'aria-label': 'Authors' });
  // The content at the version shown (read-only), coloured by author.
  const preview = h('pre', { class: 'history-preview', tabindex: 0, 'aria-label': 'Content at the selected version', 'data-testid': 'history-preview' });
  // What changed from the version shown to now.
  const diffView = h('pre', { class: 'history-preview history-diff', tabindex: 0, hidden: true, 'aria-label': 'Changes from the selected version to now', 'data-testid': 'history-diff' });
  const restore = h('button', { type: 'button', class: 'primary', 'data-testid': 'history-restore' }, 'Restore this version');
  panel.append(
    h('h2', {}, 'History'),
    nameForm,
    h('h3', {}, 'Named versions'),
    namedList,
    h('h3', {}, 'Edit sessions'),
    sessionList,
    h('h3', {}, h('label', { for: 'history-slider' }, 'Version')),
    h('div', { class: 'history-nav' }, prev, slider, next),
    label,
    h('div', { class: 'history-modes', role: 'group', 'aria-label': 'Show' }, modeAuthors, modeDiff),
    legend,
    preview,
    diffView,
    restore,
  );

  let times = new Map(); // version → time, from the ops
  let named = []; // [{version, label, author, created}]
  let sessions = [];
  let loaded = null; // {version, content}
  let mode = 'authors';
  let timer = 0;
  let refreshTimer = 0;
  let showSeq = 0;

  // ---- loading ---------------------------------------------------------------
  async function loadVersions() {
    try {
      const data = await api('GET', `${path}/versions`);
      named = Array.isArray(data?.versions) ? data.versions : [];
    } catch {
      named = [];
    }
    renderNamed();
  }

  async function loadSessions(head) {
    times = new Map();
    try {
      const from = Math.max(0, head - SESSION_OPS);
      const data = await api('GET', `${path}/ops?from=${from}&to=${head}&limit=${SESSION_OPS}`);
      const ops = data?.ops ?? [];
      for (const o of ops) times.set(o.version, o.time);
      sessions = groupSessions(ops);
    } catch {
      sessions = []; // sessions and times are optional
    }
    renderSessions();
  }

  async function open() {
    const head = headVersion();
    slider.max = String(head);
    slider.value = String(head);
    await Promise.all([loadVersions(), loadSessions(head)]);
    show(head);
  }

  // ---- rendering ---------------------------------------------------------------
  function renderNamed() {
    if (named.length === 0) {
      namedList.replaceChildren(h('li', { class: 'muted' }, 'None yet.'));
      return;
    }
    namedList.replaceChildren(
      ...[...named].reverse().map((nv) => {
        const who = authorOf(nv.author).name;
        const viewBtn = h('button', { type: 'button', class: 'link', 'data-testid': 'version-view', 'data-version': nv.version, title: `View version ${nv.version}` }, nv.label);
        viewBtn.addEventListener('click', () => show(nv.version));
        const del = h('button', { type: 'button', class: 'icon', 'aria-label': `Remove the name “${nv.label}”`, title: 'Remove the name', 'data-testid': 'version-delete' }, '×');
        del.addEventListener('click', async () => {
          try {
            await api('DELETE', `${path}/versions/${nv.version}`);
          } catch (err) {
            showBanner(`Could not remove the name: ${err.message}`);
          }
          loadVersions();
        });
        return h(
          'li',
          { 'data-testid': 'version-item', 'data-version': nv.version, class: loaded?.version === nv.version ? 'current' : null },
          viewBtn,
          h('span', { class: 'muted' }, ` v${nv.version} · ${who} · ${relativeTime(nv.created)}`),
          del,
        );
      }),
    );
  }

  function renderSessions() {
    if (sessions.length === 0) {
      sessionList.replaceChildren(h('li', { class: 'muted' }, 'No edits yet.'));
      return;
    }
    const v = loaded?.version;
    sessionList.replaceChildren(
      ...sessions.slice(0, SESSIONS_SHOWN).map((s) => {
        const btn = h(
          'button',
          { type: 'button', class: 'session', 'data-testid': 'session-item', 'data-from': s.from, 'data-to': s.to, 'aria-current': v !== undefined && v >= s.from && v <= s.to ? 'true' : null },
          h('span', { class: 'who' }, s.author.name),
          h('span', { class: 'muted' }, ` · ${relativeTime(s.end)} · ${s.count} edit${s.count === 1 ? '' : 's'}`),
        );
        btn.title = `Versions ${s.from}–${s.to}`;
        btn.addEventListener('click', () => show(s.to));
        return h('li', {}, btn);
      }),
    );
  }

  function renderBlame(content, spans) {
    if (!spans) {
      preview.replaceChildren(content);
      legend.replaceChildren();
      return;
    }
    const authors = blameAuthors(spans);
    const taken = new Set();
    for (const a of authors) {
      const own = colorOf(a.name);
      const c = typeof own === 'string' && /^#[0-9a-f]{6}$/i.test(own) && !taken.has(own.toLowerCase()) ? own.toLowerCase() : null;
      if (c) taken.add(c);
      a.colour = colours(c, a.index);
    }
    const colour = new Map(authors.map((a) => [a.key, a.colour]));
    preview.replaceChildren(
      ...blamePieces(content, spans).map((p) => {
        if (!p.author) return document.createTextNode(p.text);
        const c = colour.get(p.author.key);
        return h('span', { class: 'blame', 'data-author': p.author.name, style: `background:${c.tint};box-shadow:inset 0 -2px 0 ${c.edge}`, title: `${p.author.name} · version ${p.version}${p.time ? ` · ${relativeTime(p.time)}` : ''}` }, p.text);
      }),
    );
    legend.replaceChildren(
      ...authors.map((a) => h('li', { 'data-testid': 'legend-item', 'data-author': a.name }, h('span', { class: 'swatch', style: `background:${a.colour.tint};border-color:${a.colour.edge}`, 'aria-hidden': 'true' }), a.name)),
    );
  }

  async function renderDiff(seq) {
    if (!loaded) return;
    const to = headVersion();
    diffView.replaceChildren(h('span', { class: 'muted' }, 'Loading…'));
    try {
      const d = await api('GET', `${path}/diff?from=${loaded.version}&to=${Math.max(loaded.version, to)}`);
      if (seq !== showSeq || mode !== 'diff') return;
      const pieces = diffPieces(loaded.content, d?.op ?? []);
      if (!pieces.some((p) => p.kind !== 'same')) {
        diffView.replaceChildren(h('span', { class: 'muted' }, `No changes since version ${loaded.version}.`));
        return;
      }
      diffView.replaceChildren(
        ...pieces.map((p) => (p.kind === 'same' ? document.createTextNode(p.text) : h(p.kind, { 'data-testid': `diff-${p.kind}` }, p.text))),
      );
    } catch (e) {
      if (seq === showSeq) diffView.replaceChildren(`Cannot show the changes: ${e.message}`);
    }
  }

  function setMode(m) {
    mode = m;
    modeAuthors.setAttribute('aria-pressed', String(m === 'authors'));
    modeDiff.setAttribute('aria-pressed', String(m === 'diff'));
    preview.hidden = m !== 'authors';
    legend.hidden = m !== 'authors';
    diffView.hidden = m !== 'diff';
    if (m === 'diff') renderDiff(showSeq);
  }

  async function show(v) {
    v = Math.max(0, Math.min(Number(slider.max), v));
    const seq = ++showSeq;
    slider.value = String(v);
    const t = times.get(v);
    const name = named.find((n) => n.version === v);
    label.textContent = `Version ${v} of ${slider.max}${name ? ` · “${name.label}”` : ''}${t ? ` · ${relativeTime(t)}` : ''}`;
    restore.disabled = true;
    try {
      const [meta, blame] = await Promise.all([
        api('GET', `${path}?version=${v}`),
        api('GET', `${path}/blame?version=${v}`).catch(() => null), // colours are optional
      ]);
      if (seq !== showSeq) return;
      loaded = { version: v, content: meta.content ?? '' };
      renderBlame(loaded.content, Array.isArray(blame?.spans) ? blame.spans : null);
      restore.disabled = false;
      renderNamed();
      renderSessions();
      if (mode === 'diff') renderDiff(seq);
    } catch (e) {
      if (seq !== showSeq) return;
      preview.textContent = '';
      label.textContent = `Version ${v}: ${e.message}`;
    }
  }

  // ---- actions -----------------------------------------------------------------
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
  modeAuthors.addEventListener('click', () => setMode('authors'));
  modeDiff.addEventListener('click', () => setMode('diff'));
  nameForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = labelInput.value.trim();
    if (!text) return labelInput.focus();
    const version = loaded?.version ?? headVersion();
    try {
      await api('POST', `${path}/versions`, { version, label: text }, nameHeaders());
      labelInput.value = '';
      await loadVersions();
      label.textContent = `Named version ${version} “${text}”.`;
    } catch (err) {
      showBanner(`Could not name the version: ${err.message}`);
    }
  });
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

  return {
    /** The document changed: while the panel is open, refresh it (at most once a second). */
    changed() {
      if (panel.hidden || refreshTimer) return;
      refreshTimer = setTimeout(() => {
        refreshTimer = 0;
        if (panel.hidden) return;
        const head = headVersion();
        const atHead = Number(slider.value) === Number(slider.max);
        slider.max = String(head);
        loadVersions();
        // Someone looking at the latest version keeps seeing the latest.
        loadSessions(head).then(() => (atHead ? show(head) : mode === 'diff' && renderDiff(showSeq)));
      }, 1000);
    },
  };
}
