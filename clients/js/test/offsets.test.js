import { describe, it, expect } from 'vitest';
import { type } from 'ot-text-unicode';
import { hasSurrogates, cpLength, utf16ToCp, cpToUtf16, changesToOp, opToChanges, diffOp, lineDiffOp, transformCursor, splitsPair } from '../src/offsets.js';

// Applies UTF-16 changes (in old-text coordinates) to a string.
function applyChanges(text, changes) {
  let out = '';
  let pos = 0;
  for (const c of changes) {
    out += text.slice(pos, c.from) + c.insert;
    pos = c.to;
  }
  return out + text.slice(pos);
}

describe('offsets', () => {
  it('counts code points', () => {
    expect(cpLength('')).toBe(0);
    expect(cpLength('abc')).toBe(3);
    expect(cpLength('😀')).toBe(1);
    expect(cpLength('a😀b')).toBe(3);
    expect(cpLength('e\u0301')).toBe(2); // combining mark is its own code point
    expect(cpLength('👍🏽')).toBe(2); // emoji + skin tone modifier
    expect(cpLength('🇫🇷')).toBe(2); // two regional indicators
    expect(cpLength('\ud83d')).toBe(1); // lone surrogate
    expect(cpLength('\ude00x')).toBe(2);
  });

  it('converts UTF-16 offsets to code points and back', () => {
    const s = 'a😀b👍🏽e\u0301c';
    // UTF-16: a(0) 😀(1,2) b(3) 👍(4,5) 🏽(6,7) e(8) ◌́(9) c(10)
    const pairs = [[0, 0], [1, 1], [3, 2], [4, 3], [6, 4], [8, 5], [9, 6], [10, 7], [11, 8]];
    for (const [u, c] of pairs) {
      expect(utf16ToCp(s, u)).toBe(c);
      expect(cpToUtf16(s, c)).toBe(u);
    }
    expect(utf16ToCp(s, 2)).toBe(1); // inside 😀: rounds down
    expect(splitsPair(s, 2)).toBe(true);
    expect(splitsPair(s, 3)).toBe(false);
    expect(cpToUtf16(s, 100)).toBe(s.length);
    expect(utf16ToCp(s, 100)).toBe(8);
  });

  it('works with a sliceString text (CodeMirror Text)', () => {
    const str = 'x😀y';
    const text = { length: str.length, sliceString: (a, b) => str.slice(a, b) };
    expect(utf16ToCp(text, 3)).toBe(2);
    expect(cpToUtf16(text, 2)).toBe(3);
    expect(changesToOp(text, [{ from: 1, to: 3, insert: '' }])).toEqual([1, { d: 1 }]);
  });

  it('converts changes to ops', () => {
    const s = 'a😀b';
    expect(changesToOp(s, [{ from: 3, to: 3, insert: '🎉' }])).toEqual([2, '🎉']);
    expect(changesToOp(s, [{ from: 1, to: 3, insert: '' }])).toEqual([1, { d: 1 }]);
    expect(changesToOp(s, [{ from: 0, to: 1, insert: 'X' }, { from: 4, to: 4, insert: 'Y' }])).toEqual(['X', { d: 1 }, 2, 'Y']);
    // a change that splits a surrogate pair is widened to the whole code point
    const op = changesToOp(s, [{ from: 2, to: 3, insert: '' }]);
    expect(op).toEqual([1, '\ud83d', { d: 1 }]);
    expect(type.apply(s, op)).toBe(applyChanges(s, [{ from: 2, to: 3, insert: '' }]));
    expect(changesToOp(s, [{ from: 2, to: 2, insert: '' }])).toEqual([]);
    expect(changesToOp(s, [])).toEqual([]);
  });

  it('converts ops to changes', () => {
    const s = 'a😀b👍🏽';
    expect(opToChanges(s, [1, { d: 1 }])).toEqual([{ from: 1, to: 3, insert: '' }]);
    expect(opToChanges(s, [2, 'x', { d: 1 }, 'y'])).toEqual([{ from: 3, to: 4, insert: 'xy' }]);
    expect(opToChanges(s, [{ d: 'a' }])).toEqual([{ from: 0, to: 1, insert: '' }]);
    expect(() => opToChanges(s, [10, 'x'])).toThrow(/past the end/);
  });

  it('round-trips random changes through ops', () => {
    const chars = ['a', 'b', '😀', '👍🏽', 'e\u0301', '\n', '字'];
    let seed = 7;
    const r = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let iter = 0; iter < 2000; iter++) {
      const cps = [];
      const n = Math.floor(r() * 12);
      for (let i = 0; i < n; i++) cps.push(chars[Math.floor(r() * chars.length)]);
      const text = cps.join('');
      // random sorted changes at code point boundaries (as CodeMirror makes them)
      const bounds = [0];
      for (const ch of Array.from(text)) bounds.push(bounds[bounds.length - 1] + ch.length);
      const picks = bounds.filter(() => r() < 0.3).sort((x, y) => x - y);
      const changes = [];
      for (let i = 0; i + 1 < picks.length; i += 2) {
        changes.push({ from: picks[i], to: r() < 0.5 ? picks[i] : picks[i + 1], insert: r() < 0.5 ? chars[Math.floor(r() * chars.length)] : '' });
      }
      const expected = applyChanges(text, changes);
      const op = changesToOp(text, changes);
      type.checkOp(op);
      expect(type.apply(text, op)).toBe(expected);
      expect(op).toEqual(type.normalize(op));
      expect(applyChanges(text, opToChanges(text, op))).toBe(expected);
    }
  });

  it('gives the same results on the bmp fast path for text without astral characters', () => {
    const s = 'héllo wörld\ne\u0301';
    expect(hasSurrogates(s)).toBe(false);
    expect(hasSurrogates('a😀')).toBe(true);
    for (let i = 0; i <= s.length + 1; i++) {
      expect(utf16ToCp(s, i, true)).toBe(utf16ToCp(s, i));
      expect(cpToUtf16(s, i, true)).toBe(cpToUtf16(s, i));
    }
    const changes = [{ from: 1, to: 3, insert: '😀' }, { from: 6, to: 6, insert: 'x' }, { from: 12, to: 14, insert: '' }];
    expect(changesToOp(s, changes, true)).toEqual(changesToOp(s, changes));
    const op = [2, '😀', { d: 3 }, 4, { d: 1 }];
    expect(opToChanges(s, op, true)).toEqual(opToChanges(s, op));
    expect(() => opToChanges(s, [20, 'x'], true)).toThrow(/past the end/);
  });

  it('computes a minimal diff op on code points', () => {
    const cases = [
      ['', ''],
      ['abc', 'abc'],
      ['', 'x😀'],
      ['hello world', 'hello brave world'],
      ['a😀b', 'a😁b'], // same high surrogate: must not split
      ['abc', ''],
      ['x👍🏽y', 'x👍y'],
    ];
    for (const [a, b] of cases) {
      const op = diffOp(a, b);
      type.checkOp(op);
      expect(type.apply(a, op)).toBe(b);
    }
    expect(diffOp('a😀b', 'a😁b')).toEqual([1, '😁', { d: 1 }]);
    expect(diffOp('same', 'same')).toEqual([]);
  });

  it('lineDiffOp keeps unchanged lines, so a cursor on them stays put', () => {
    const from = 'one\ntwo 😀\nthree\nfour\n';
    const to = 'ONE\ntwo 😀\nthree\nfour!\nfive\n';
    const op = lineDiffOp(from, to);
    type.checkOp(op);
    expect(type.apply(from, op)).toBe(to);
    // A cursor inside "three" (code point 12) is not moved by the restore…
    expect(transformCursor(12, op)).toBe(12);
    // …while the prefix/suffix diff replaces everything between line 1 and 4.
    expect(type.apply(from, diffOp(from, to))).toBe(to);
    // Random texts: always correct.
    const words = ['a', 'b\n', 'c😀', '\n', 'dd\n'];
    for (let k = 0; k < 300; k++) {
      const rnd = () => Array.from({ length: Math.floor(Math.random() * 12) }, () => words[Math.floor(Math.random() * words.length)]).join('');
      const x = rnd(), y = rnd();
      const o = lineDiffOp(x, y);
      type.checkOp(o);
      expect(type.apply(x, o)).toBe(y);
    }
  });

  it('transforms cursors, optionally pushing past inserts at the cursor', () => {
    expect(transformCursor(2, [2, 'xy'])).toBe(2);
    expect(transformCursor(2, [2, 'xy'], true)).toBe(4);
    expect(transformCursor(3, ['😀'])).toBe(4);
    expect(transformCursor(5, [1, { d: 2 }])).toBe(3);
    expect(transformCursor(2, [1, { d: 3 }])).toBe(1);
    for (const [c, op] of [[0, ['a']], [4, [1, { d: 'ab' }, 'x']], [7, [3, '😀😀']]]) {
      expect(transformCursor(c, op)).toBe(type.transformPosition(c, op));
    }
  });
});
