import { describe, it, expect } from 'vitest';
import { Peers } from '../src/peers.js';

const user = (name) => ({ id: name, name, color: '#123456' });

describe('Peers', () => {
  it('moves selections through committed ops; pushes the author past their own insert', () => {
    const p = new Peers();
    p.update({ client: 'b', user: user('Bob'), version: 3, selection: [{ anchor: 2, head: 5 }] }, 3);
    p.update({ client: 'c', user: user('Cy'), version: 3, selection: [{ anchor: 4, head: 4 }] }, 3);
    p.commit(4, [4, '😀x'], 'c'); // Cy typed at their cursor
    const [bob, cy] = p.display(4, []);
    expect(bob.ranges).toEqual([{ anchor: 2, head: 7 }]);
    expect(cy.ranges).toEqual([{ anchor: 6, head: 6 }]);
    p.commit(5, [{ d: 3 }], 'a');
    expect(p.display(5, [])[0].ranges).toEqual([{ anchor: 0, head: 4 }]);
  });

  it('catches up a late presence through the ops it kept', () => {
    const p = new Peers();
    p.commit(1, ['abc'], 'a');
    p.commit(2, [1, { d: 1 }], 'a');
    p.update({ client: 'b', user: user('Bob'), version: 0, selection: [{ anchor: 0, head: 0 }] }, 2);
    expect(p.display(2, [])[0].ranges).toEqual([{ anchor: 0, head: 0 }]); // an insert at the cursor by someone else does not move it
    p.update({ client: 'b', user: user('Bob'), version: 1, selection: [{ anchor: 3, head: 3 }] }, 2);
    expect(p.display(2, [])[0].ranges).toEqual([{ anchor: 2, head: 2 }]);
  });

  it('draws through our pending ops without changing the model', () => {
    const p = new Peers();
    p.update({ client: 'b', user: user('Bob'), version: 7, selection: [{ anchor: 5, head: 5 }] }, 7);
    const shown = p.display(7, [[1, 'xy'], null]);
    expect(shown[0].ranges).toEqual([{ anchor: 7, head: 7 }]);
    expect(p.display(7, [])[0].ranges).toEqual([{ anchor: 5, head: 5 }]);
    // a presence ahead of us is drawn as is
    p.update({ client: 'c', user: user('Cy'), version: 9, selection: [{ anchor: 1, head: 2 }] }, 7);
    expect(p.display(7, [[0, 'zz']])[1].ranges).toEqual([{ anchor: 1, head: 2 }]);
  });

  it('lists who is here and forgets who left; ignores malformed entries', () => {
    const p = new Peers();
    p.update({ client: 'b', user: user('Bob'), version: 0, selection: [{ anchor: 0, head: 0 }] }, 0);
    p.update({ client: 'c', user: { id: 'c' }, version: 0 }, 0); // present, no selection yet
    p.update({ user: {} }, 0); // no key: ignored
    p.update({ client: 'd', user: user('Di'), version: 0, selection: [{ anchor: -1, head: 'x' }] }, 0);
    expect(p.list().map((x) => x.name)).toEqual(['Bob', 'Anonymous', 'Di']);
    expect(p.display(0, []).map((x) => x.ranges.length)).toEqual([1, 0]);
    p.update({ client: 'b', selection: null }, 0);
    expect(p.list().map((x) => x.name)).toEqual(['Anonymous', 'Di']);
    p.clear();
    expect(p.list()).toEqual([]);
  });
});
