import { describe, it, expect } from 'vitest';
import { EditorState, Transaction } from '@codemirror/state';
import { history, undo, undoDepth } from '@codemirror/commands';
import { undoStore, initialState } from '../src/undo.js';

// A Web Storage over a Map (the interface undoStore uses).
const memoryStorage = () => {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k), m };
};

const run = (state, cmd) => {
  let out = state;
  cmd({ state, dispatch: (tr) => (out = tr.state) });
  return out;
};

describe('undo record', () => {
  it('restores the undo history, which then undoes only the local edit after a remote one', () => {
    const storage = memoryStorage();
    const store = undoStore('k', storage);
    let s = EditorState.create({ doc: 'abc', extensions: [history()] });
    s = s.update({ changes: { from: 3, insert: ' mine' } }).state;
    expect(store.save(s)).toBe(true);

    let r = initialState('ignored', [history()], store.load());
    expect(r.doc.toString()).toBe('abc mine');
    expect(undoDepth(r)).toBe(1);
    // A collaborator's change, as the binding dispatches it.
    r = r.update({ changes: { from: 0, insert: 'REMOTE ' }, annotations: Transaction.addToHistory.of(false) }).state;
    r = run(r, undo);
    expect(r.doc.toString()).toBe('REMOTE abc');
  });

  it('starts fresh from a damaged record', () => {
    const storage = memoryStorage();
    storage.setItem('k', JSON.stringify({ doc: 'x', selection: { ranges: [{ anchor: 9, head: 9 }], main: 0 }, history: { done: [{}], undone: [] } }));
    const s = initialState('fresh', [history()], undoStore('k', storage).load());
    expect(s.doc.toString()).toBe('fresh');
    expect(undoDepth(s)).toBe(0);
  });

  it('ignores what is not a record and clears', () => {
    const storage = memoryStorage();
    storage.setItem('k', '{"nope":1}');
    const store = undoStore('k', storage);
    expect(store.load()).toBe(null);
    store.clear();
    expect(storage.m.has('k')).toBe(false);
  });
});
