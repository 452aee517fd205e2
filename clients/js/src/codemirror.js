// The CodeMirror 6 binding: keeps an EditorView and a live Doc in step.
//
//   const view = new EditorView({ state: EditorState.create({ doc: doc.text, extensions: [cowrite(doc)] }) });
//
// Local edits become ops on the Doc (UTF-16 offsets converted to the
// protocol's code points); the Doc's other changes (collaborators' ops,
// catch-up, content after a resync) are dispatched into the editor without
// entering its undo history; the editor is editable only while the Doc is;
// collaborators' cursors and selections are drawn in their colour with a
// name label (cursors.js); our selection is sent as presence.

import { Annotation, EditorState, Transaction } from '@codemirror/state';
import { EditorView, ViewPlugin } from '@codemirror/view';
import { changesToOp, opToChanges, utf16ToCp, cpToUtf16, hasSurrogates, diffOp } from './offsets.js';
import { remoteCursors, setRemoteCursors } from './cursors.js';
import { editableField, setEditable } from './editable.js';
import { utf8Length } from './limits.js';

export { readableOn, remoteCursors, setRemoteCursors } from './cursors.js';

/** Marks the transactions the binding dispatches (changes that did not come from this editor). */
export const remoteChange = Annotation.define();

const validColor = (c) => (typeof c === 'string' && /^#[0-9a-f]{3,8}$/i.test(c) ? c : '#475569');

class Binding {
  constructor(view, doc, cursors) {
    this.view = view;
    this.doc = doc;
    this.cursors = cursors;
    // While the text holds no astral character (no surrogate pairs), UTF-16
    // offsets equal code point offsets and conversions need no scanning. The
    // flag only ever turns on (deleting the last emoji does not turn it off).
    this.bmp = !hasSurrogates(view.state.doc.toString());
    this.updating = false;
    this.offs = [
      doc.on('change', (c) => c.origin !== 'local' && this.later(() => this.applyRemote(c.op))),
      doc.on('presence', () => this.later(() => this.drawPresence())),
      doc.on('status', (s) => this.later(() => this.syncEditable(s.editable))),
    ];
    // Dispatching while the view is being built is not allowed: start right after.
    queueMicrotask(() => {
      if (this.destroyed) return;
      // The view must start from the Doc's text; bring it there if it did not.
      const cur = this.view.state.doc.toString();
      if (cur !== doc.text) this.applyRemote(diffOp(cur, doc.text));
      this.syncEditable(doc.status.editable);
      this.drawPresence();
    });
  }

  /** Runs fn now, or right after the current editor update (dispatching inside one is not allowed). */
  later(fn) {
    if (this.updating) queueMicrotask(() => !this.destroyed && fn());
    else fn();
  }

  update(update) {
    this.updating = true;
    try {
      for (const tr of update.transactions) {
        if (!tr.docChanged) continue;
        const changes = [];
        tr.changes.iterChanges((fromA, toA, _fromB, _toB, ins) => changes.push({ from: fromA, to: toA, insert: ins.toString() }));
        if (!tr.annotation(remoteChange)) {
          const op = changesToOp(tr.startState.doc, changes, this.bmp);
          if (op.length) this.doc.local(op);
        }
        if (this.bmp && changes.some((c) => hasSurrogates(c.insert))) this.bmp = false;
      }
      if (update.selectionSet || update.docChanged) {
        const text = update.state.doc;
        this.doc.setSelection(update.state.selection.ranges.map((r) => ({ anchor: utf16ToCp(text, r.anchor, this.bmp), head: utf16ToCp(text, r.head, this.bmp) })));
      }
    } finally {
      this.updating = false;
    }
  }

  applyRemote(op) {
    if (!op || op.length === 0) return;
    const changes = opToChanges(this.view.state.doc, op, this.bmp);
    this.view.dispatch({ changes, annotations: [remoteChange.of(true), Transaction.addToHistory.of(false)] });
  }

  syncEditable(on) {
    if (this.view.state.field(editableField) !== on) this.view.dispatch({ effects: setEditable.of(on) });
  }

  drawPresence() {
    if (!this.cursors) return;
    const text = this.view.state.doc;
    const shown = this.doc.presence().map((p) => ({
      name: p.name,
      color: validColor(p.color),
      ranges: p.ranges.map((r) => ({ anchor: cpToUtf16(text, r.anchor, this.bmp), head: cpToUtf16(text, r.head, this.bmp) })),
    }));
    setRemoteCursors(this.view, shown);
  }

  destroy() {
    this.destroyed = true;
    for (const off of this.offs) off();
  }
}

/**
 * The extension that binds an editor to a live document. Create the editor
 * state with `doc: doc.text`.
 * @param {import('./client.js').Doc} doc
 * @param {{cursors?: boolean}} [o] cursors: draw collaborators' cursors (default true)
 */
export function cowrite(doc, { cursors = true } = {}) {
  const plugin = ViewPlugin.define((view) => new Binding(view, doc, cursors));
  // Edits the server would refuse for their size are stopped here, before
  // they enter the editor (the server would reject the whole pending op).
  const sizeGuard = EditorState.transactionFilter.of((tr) => {
    if (!tr.docChanged || tr.annotation(remoteChange)) return tr;
    const inserts = [];
    tr.changes.iterChanges((_a, _b, _c, _d, ins) => ins.length && inserts.push(ins.toString()));
    const why = doc.refusal(inserts, tr.newDoc.length, () => utf8Length(tr.newDoc));
    if (!why) return tr;
    queueMicrotask(() => doc.refused(why));
    return [];
  });
  return [editableField.init(() => doc.status.editable), sizeGuard, plugin, cursors ? remoteCursors : []];
}

export { EditorView };
