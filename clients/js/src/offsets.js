// Conversions between CodeMirror's UTF-16 offsets and the protocol's Unicode
// code point offsets (SPEC.md §1: "😀" is one character), and between
// CodeMirror change lists and ot-text-unicode ops.
//
// A "text" argument is either a JS string or anything with sliceString(from, to)
// and a length (a CodeMirror Text), so large documents are never copied whole.
// The optional `bmp` argument promises that the text holds no surrogate code
// units (no astral characters such as emoji): offsets are then equal in both
// units and nothing needs to be scanned. The editor tracks that property.

/** True when s contains a UTF-16 surrogate code unit (an astral character). */
export function hasSurrogates(s) {
  return /[\ud800-\udfff]/.test(s);
}

/** @param {string} s @returns {number} number of code points in s */
export function cpLength(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low surrogate is one code point; a lone
    // surrogate counts as one code point too (as in ot-text-unicode/unicount).
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function slice(text, from, to) {
  return typeof text === 'string' ? text.slice(from, to) : text.sliceString(from, to);
}

function charAt(text, i) {
  if (i < 0 || i >= text.length) return 0;
  return typeof text === 'string' ? text.charCodeAt(i) : text.sliceString(i, i + 1).charCodeAt(0);
}

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff;

/** True when UTF-16 offset i falls between the two halves of a surrogate pair. */
export function splitsPair(text, i) {
  return i > 0 && i < text.length && isHigh(charAt(text, i - 1)) && isLow(charAt(text, i));
}

/**
 * UTF-16 offset → code point offset. An offset inside a surrogate pair is
 * rounded down to the start of the pair.
 */
export function utf16ToCp(text, u16, bmp = false) {
  if (u16 <= 0) return 0;
  if (u16 > text.length) u16 = text.length;
  if (bmp) return u16;
  if (splitsPair(text, u16)) u16--;
  return cpLength(slice(text, 0, u16));
}

/** Code point offset → UTF-16 offset (clamped to the end of the text). */
export function cpToUtf16(text, cp, bmp = false) {
  if (cp <= 0) return 0;
  if (bmp) return Math.min(cp, text.length);
  const s = typeof text === 'string' ? text : null;
  let i = 0;
  let n = 0;
  // Walk in chunks for CodeMirror Text to avoid per-char sliceString calls.
  const str = s ?? text.sliceString(0, Math.min(text.length, cp * 2));
  while (i < str.length && n < cp) {
    const c = str.charCodeAt(i);
    i += isHigh(c) && i + 1 < str.length && isLow(str.charCodeAt(i + 1)) ? 2 : 1;
    n++;
  }
  return Math.min(i, text.length);
}

/**
 * Converts a list of changes in UTF-16 offsets of the old text — sorted,
 * non-overlapping {from, to, insert} as CodeMirror's ChangeSet.iterChanges
 * yields them — into a normalized ot-text-unicode op in code points.
 * Changes that would split a surrogate pair are widened to whole code points.
 * @returns {Array<number|string|{d:number}>}
 */
export function changesToOp(text, changes, bmp = false) {
  const count = (a, b) => (bmp ? b - a : cpLength(slice(text, a, b)));
  const op = [];
  const push = (c) => {
    const last = op[op.length - 1];
    if (typeof c === 'number') {
      if (c <= 0) return;
      if (typeof last === 'number') op[op.length - 1] = last + c;
      else op.push(c);
    } else if (typeof c === 'string') {
      if (c === '') return;
      if (typeof last === 'string') op[op.length - 1] = last + c;
      else op.push(c);
    } else {
      if (c.d <= 0) return;
      if (last && typeof last === 'object') last.d += c.d;
      else op.push({ d: c.d });
    }
  };
  let pos = 0; // UTF-16 offset in the old text up to which op covers
  for (const ch of changes) {
    let { from, to } = ch;
    let insert = ch.insert ?? '';
    if (from < pos) throw new Error('changesToOp: changes overlap or are unsorted');
    if (from === to && insert === '') continue;
    if (!bmp && splitsPair(text, from)) {
      from--;
      insert = slice(text, from, from + 1) + insert;
    }
    if (!bmp && splitsPair(text, to)) {
      insert = insert + slice(text, to, to + 1);
      to++;
    }
    if (from < pos) from = pos; // widened into a previous change (cannot happen for CM changes)
    push(count(pos, from));
    // Inserts go before deletes, as ot-text-unicode's normalize expects.
    push(insert);
    push({ d: count(from, to) });
    pos = to;
  }
  // No trailing skip.
  if (typeof op[op.length - 1] === 'number') op.pop();
  return op;
}

/**
 * Converts an ot-text-unicode op (code points) applied to text into a list
 * of {from, to, insert} changes in UTF-16 offsets of text, sorted and
 * non-overlapping (suitable for a CodeMirror transaction). Throws if the op
 * skips or deletes past the end of text.
 */
export function opToChanges(text, op, bmp = false) {
  const changes = [];
  let u16 = 0;
  const advance = (n) => {
    if (bmp) {
      if (u16 + n > text.length) throw new Error('op goes past the end of the document');
      u16 += n;
      return u16 - n;
    }
    // advance u16 by n code points
    const chunk = slice(text, u16, Math.min(text.length, u16 + n * 2));
    let i = 0;
    let k = 0;
    while (k < n) {
      if (i >= chunk.length) throw new Error('op goes past the end of the document');
      const c = chunk.charCodeAt(i);
      i += isHigh(c) && i + 1 < chunk.length && isLow(chunk.charCodeAt(i + 1)) ? 2 : 1;
      k++;
    }
    const start = u16;
    u16 += i;
    return start;
  };
  for (const c of op) {
    if (typeof c === 'number') {
      advance(c);
    } else if (typeof c === 'string') {
      const last = changes[changes.length - 1];
      if (last && last.to === u16) last.insert += c;
      else changes.push({ from: u16, to: u16, insert: c });
    } else if (c && typeof c === 'object') {
      const n = typeof c.d === 'number' ? c.d : cpLength(c.d);
      const from = advance(n);
      const last = changes[changes.length - 1];
      if (last && last.to === from) last.to = u16;
      else changes.push({ from, to: u16, insert: '' });
    }
  }
  return changes;
}

/**
 * A minimal op turning `from` into `to`: common prefix and suffix on code
 * points, then one delete and one insert. Used by history restore.
 */
export function diffOp(from, to) {
  const a = Array.from(from);
  const b = Array.from(to);
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  const op = [];
  if (p > 0) op.push(p);
  const ins = b.slice(p, b.length - s).join('');
  if (ins) op.push(ins);
  const del = a.length - p - s;
  if (del > 0) op.push({ d: del });
  if (op.length === 1 && typeof op[0] === 'number') return [];
  return op;
}

/**
 * An op turning `from` into `to` that keeps every unchanged line: a line
 * diff (longest common subsequence) between the common prefix and suffix,
 * then diffOp inside each changed block. A restore made of it leaves the
 * text around collaborators' cursors in place, so their cursors stay where
 * they were. Beyond 4 million line pairs it falls back to diffOp.
 */
export function lineDiffOp(from, to) {
  const a = Array.from(from);
  const b = Array.from(to);
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  const la = lines(a.slice(p, a.length - s));
  const lb = lines(b.slice(p, b.length - s));
  if (la.length * lb.length > 4e6) return diffOp(from, to);
  // lcs[i][j]: the LCS length of la[i:] and lb[j:].
  const n = la.length, m = lb.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = la[i] === lb[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const op = [];
  const push = (c) => {
    const last = op[op.length - 1];
    if (typeof c === 'number' && typeof last === 'number') op[op.length - 1] = last + c;
    else op.push(c);
  };
  if (p > 0) push(p);
  let i = 0, j = 0;
  let oldBlock = '', newBlock = '';
  const flush = () => {
    if (oldBlock || newBlock) for (const c of diffOp(oldBlock, newBlock)) push(c);
    const rest = cpLength(oldBlock) - retained(diffOp(oldBlock, newBlock));
    if (rest > 0) push(rest);
    oldBlock = newBlock = '';
  };
  while (i < n || j < m) {
    if (i < n && j < m && la[i] === lb[j]) {
      flush();
      push(cpLength(la[i]));
      i++; j++;
    } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      newBlock += lb[j++];
    } else {
      oldBlock += la[i++];
    }
  }
  flush();
  while (typeof op[op.length - 1] === 'number') op.pop(); // no trailing skip
  return op;
}

// lines splits code points into lines, each with its '\n'.
function lines(cps) {
  const out = [];
  let cur = '';
  for (const c of cps) {
    cur += c;
    if (c === '\n') {
      out.push(cur);
      cur = '';
    }
  }
  if (cur) out.push(cur);
  return out;
}

// retained is how many code points of its base an op consumes (skips and deletes).
function retained(op) {
  let n = 0;
  for (const c of op) n += typeof c === 'number' ? c : typeof c === 'object' ? (typeof c.d === 'number' ? c.d : cpLength(c.d)) : 0;
  return n;
}

/**
 * Like ot-text-unicode's transformPosition, but when `push` is true an insert
 * exactly at the cursor moves the cursor after it (used for the cursor of the
 * collaborator who typed the insert).
 */
export function transformCursor(cursor, op, push = false) {
  let pos = 0;
  for (let i = 0; i < op.length && (cursor > pos || (push && cursor === pos)); i++) {
    const c = op[i];
    if (typeof c === 'number') pos += c;
    else if (typeof c === 'string') {
      const n = cpLength(c);
      pos += n;
      cursor += n;
    } else {
      const n = typeof c.d === 'number' ? c.d : cpLength(c.d);
      cursor -= Math.min(n, cursor - pos);
    }
  }
  return cursor;
}
