// Per-user undo that survives a reload. Undo itself is CodeMirror's history:
// the binding (clients/js/src/codemirror.js) dispatches collaborators' changes
// with addToHistory: false, so they never enter the stack and the stack is
// mapped through them — Ctrl-Z (Ctrl-Shift-Z / Ctrl-Y: redo) undoes only this
// person's edits, transformed over everyone else's.
//
// To survive a reload, the undo stack is saved in localStorage next to the
// client's pending ops (same slot), together with the text it applies to
// (CodeMirror's EditorState.toJSON with the history field). On load the
// editor starts from that text and stack; the binding then brings it to the
// document's current text as a remote change, which maps the stack through
// whatever happened since (collaborators' edits, a catch-up).

import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { historyField } from '@codemirror/commands';

/** The undo record is saved this long after the last change (ms), and on pagehide. */
export const UNDO_SAVE_DELAY = 400;
/** Undo records longer than this (UTF-16 units of JSON) are not kept: localStorage is small. */
export const UNDO_MAX_CHARS = 2_000_000;

/** The undo record stored under `key` in a Web Storage. */
export function undoStore(key, storage = globalThis.localStorage) {
  return {
    load() {
      try {
        const r = JSON.parse(storage?.getItem(key) ?? 'null');
        return r && typeof r.doc === 'string' && r.history && Array.isArray(r.history.done) ? r : null;
      } catch {
        return null;
      }
    },
    /** Saves the state's text, selection and undo history; false when not kept. */
    save(state) {
      try {
        const json = JSON.stringify(state.toJSON({ history: historyField }));
        if (json.length > UNDO_MAX_CHARS) {
          storage?.removeItem(key);
          return false;
        }
        storage?.setItem(key, json);
        return true;
      } catch {
        return false;
      }
    },
    clear() {
      try {
        storage?.removeItem(key);
      } catch {
        /* disabled storage */
      }
    },
  };
}

/**
 * The editor's initial state: from the saved undo record when there is a
 * usable one, else `text` with an empty history. `extensions` must include
 * CodeMirror's history().
 */
export function initialState(text, extensions, saved) {
  if (saved) {
    try {
      return EditorState.fromJSON(saved, { extensions }, { history: historyField });
    } catch {
      /* a damaged or foreign record: start without it */
    }
  }
  return EditorState.create({ doc: text, extensions });
}

/**
 * Saves the undo record UNDO_SAVE_DELAY after changes: `ext` goes into the
 * editor's extensions; flush(view) saves at once (on pagehide).
 */
export function persistUndo(store) {
  let timer = 0;
  let last = null;
  const save = () => {
    clearTimeout(timer);
    timer = 0;
    if (last) store.save(last.state);
  };
  return {
    ext: EditorView.updateListener.of((u) => {
      last = u.view;
      if (u.docChanged && !timer) timer = setTimeout(save, UNDO_SAVE_DELAY);
    }),
    flush(view) {
      last = view ?? last;
      save();
    },
  };
}
