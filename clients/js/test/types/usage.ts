// Compiled by `npm test` (tsc --noEmit): the README's usage type-checks.
import { connect, localStoragePersistence, fetchLimits, type Status, type Change } from '@cowrite/client';
import { cowrite } from '@cowrite/client/codemirror';
import { EditorState } from '@codemirror/state';

export async function example(storage: Storage): Promise<string> {
  const client = connect('http://127.0.0.1:3000', { token: 't', name: 'Ada', color: '#1d4ed8' });
  const limits = await fetchLimits((m, p) => client.rest(m, p));
  const doc = await client.openDoc('notes', { persistence: localStoragePersistence(storage), limits });
  const off = doc.on('change', (c: Change) => console.log(c.origin, c.op));
  doc.on('status', (s: Status) => console.log(s.conn, s.save));
  doc.on('presence', (people) => people.map((p) => p.name));
  doc.insert(0, 'Hello 😀');
  doc.delete(0, 1);
  doc.applyOp([1, { d: 1 }, 'x']);
  doc.setSelection([{ anchor: 1, head: 2 }]);
  await doc.synced();
  off();
  const state = EditorState.create({ doc: doc.text, extensions: [cowrite(doc)] });
  doc.close();
  client.close();
  return state.doc.toString() + doc.version + String(doc.pending);
}
