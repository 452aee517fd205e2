import { describe, it, expect } from 'vitest';
import { groupSessions, blamePieces, blameAuthors, diffPieces, SESSION_GAP_MS } from '../src/timeline.js';

const at = (s) => new Date(Date.UTC(2026, 0, 1, 12, 0, s)).toISOString();
const op = (version, s, name, client = name) => ({ version, time: at(s), author: name ? { id: name.toLowerCase(), name } : null, client });

describe('groupSessions', () => {
  it('makes one session of an author typing with short pauses, even with a collaborator in between', () => {
    const ops = [op(1, 0, 'Alice'), op(2, 1, 'Alice'), op(3, 2, 'Bob'), op(4, 20, 'Alice'), op(5, 21, 'Bob')];
    const s = groupSessions(ops);
    expect(s.map((x) => [x.author.name, x.from, x.to, x.count])).toEqual([['Bob', 3, 5, 2], ['Alice', 1, 4, 3]]);
  });
  it('starts a new session after a pause of the gap or more', () => {
    const gapS = SESSION_GAP_MS / 1000;
    const s = groupSessions([op(1, 0, 'Alice'), op(2, gapS, 'Alice'), op(3, gapS + 1, 'Alice')]);
    expect(s.map((x) => [x.from, x.to])).toEqual([[2, 3], [1, 1]]);
  });
  it('groups ops without an author by client', () => {
    const s = groupSessions([op(1, 0, null, 'c1'), op(2, 1, null, 'c2')]);
    expect(s).toHaveLength(2);
    expect(s[0].author.name).toBe('unknown');
  });
});

describe('blame', () => {
  const spans = [
    { start: 0, end: 2, author: { id: 'a', name: 'Alice' }, version: 1 },
    { start: 2, end: 3, author: { id: 'b', name: 'Bob' }, version: 2 },
    { start: 3, end: 5, author: { id: 'a', name: 'Alice' }, version: 3 },
  ];
  it('cuts the text along code point spans', () => {
    const p = blamePieces('😀bcde', spans);
    expect(p.map((x) => [x.text, x.author?.name])).toEqual([['😀b', 'Alice'], ['c', 'Bob'], ['de', 'Alice']]);
  });
  it('gives each author one colour index, in order of appearance', () => {
    expect(blameAuthors(spans).map((a) => [a.name, a.index])).toEqual([['Alice', 0], ['Bob', 1]]);
  });
  it('keeps text the spans miss', () => {
    expect(blamePieces('abcdefg', spans).at(-1)).toEqual({ text: 'fg', author: null });
  });
});

describe('diffPieces', () => {
  it('walks retains, inserts and deletes (by text or by count) over the old text', () => {
    expect(diffPieces('hello 😀 world', [6, { d: 2 }, 'there', ' ', 1, { d: 'orld' }, 'x'])).toEqual([
      { kind: 'same', text: 'hello ' },
      { kind: 'del', text: '😀 ' },
      { kind: 'ins', text: 'there ' },
      { kind: 'same', text: 'w' },
      { kind: 'del', text: 'orld' },
      { kind: 'ins', text: 'x' },
    ]);
  });
  it('keeps the untouched tail', () => {
    expect(diffPieces('abc', ['x'])).toEqual([{ kind: 'ins', text: 'x' }, { kind: 'same', text: 'abc' }]);
  });
  it('refuses an op longer than the text', () => {
    expect(() => diffPieces('ab', [5])).toThrow(/does not fit/);
  });
});
