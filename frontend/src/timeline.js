// The history panel's pure parts (no DOM, no requests), tested in
// frontend/test/timeline.test.js: grouping ops into edit sessions, one colour
// per author for blame, and walking a diff op over the old text.

/** Ops of one author less than this apart (ms) belong to one edit session. */
export const SESSION_GAP_MS = 30_000;

/** The key and display name of an op's or a blame span's author. */
export function authorOf(author, client) {
  const id = author?.id || author?.name || (client ? `client:${client}` : 'unknown');
  const name = author?.name || author?.id || 'unknown';
  return { key: id, name };
}

/**
 * Groups ops ({version, time, author, client}, oldest first) into edit
 * sessions: an author's op joins that author's latest session when it came
 * less than `gap` ms after the session's last op, even if a collaborator's
 * ops came in between (two people typing at once make two sessions, not a
 * hundred). Returns the sessions newest first:
 * { author: {key, name}, from, to, start, end, count } (versions and times
 * of the first and last op).
 */
export function groupSessions(ops, gap = SESSION_GAP_MS) {
  const open = new Map(); // author key → its latest session
  const all = [];
  for (const o of ops ?? []) {
    const t = Date.parse(o.time);
    const author = authorOf(o.author, o.client);
    let s = open.get(author.key);
    if (!s || !(t - s.endMs < gap)) {
      s = { author, from: o.version, to: o.version, start: o.time, end: o.time, endMs: t, count: 0 };
      open.set(author.key, s);
      all.push(s);
    }
    s.to = o.version;
    s.end = o.time;
    s.endMs = t;
    s.count++;
  }
  all.sort((a, b) => b.to - a.to);
  return all.map(({ endMs: _, ...s }) => s);
}

// Author colours: distinct hues that read as a tint on light and dark
// backgrounds alike (the text keeps its colour; the tint is translucent).
export const AUTHOR_HUES = [212, 0, 140, 35, 275, 175, 320, 60, 250, 100];

/** The authors of blame spans in order of first appearance, each with a colour index. */
export function blameAuthors(spans) {
  const seen = new Map();
  for (const s of spans ?? []) {
    const a = authorOf(s.author);
    if (!seen.has(a.key)) seen.set(a.key, { ...a, index: seen.size });
  }
  return [...seen.values()];
}

/** The hue of the author with colour index i. */
export const authorHue = (i) => AUTHOR_HUES[i % AUTHOR_HUES.length];

/**
 * Cuts `text` along blame spans (code point offsets): [{text, author, version, time}].
 * Text the spans do not cover (they should cover it all) comes out with author null.
 */
export function blamePieces(text, spans) {
  const cps = Array.from(text);
  const out = [];
  let pos = 0;
  for (const s of spans ?? []) {
    const start = Math.max(pos, Math.min(cps.length, s.start | 0));
    const end = Math.max(start, Math.min(cps.length, s.end | 0));
    if (start > pos) out.push({ text: cps.slice(pos, start).join(''), author: null });
    if (end > start) out.push({ text: cps.slice(start, end).join(''), author: authorOf(s.author), version: s.version, time: s.time });
    pos = end;
  }
  if (pos < cps.length) out.push({ text: cps.slice(pos).join(''), author: null });
  return out;
}

/**
 * Walks an op (ot-text-unicode: retain count, insert string, {d: string |
 * count}) over the old text: [{kind: 'same' | 'ins' | 'del', text}], adjacent
 * pieces of one kind merged. Throws when the op does not fit the text.
 */
export function diffPieces(oldText, op) {
  const cps = Array.from(oldText);
  const out = [];
  let pos = 0;
  const push = (kind, text) => {
    if (!text) return;
    const last = out[out.length - 1];
    if (last && last.kind === kind) last.text += text;
    else out.push({ kind, text });
  };
  const take = (n) => {
    if (pos + n > cps.length) throw new Error('the diff does not fit the text');
    const s = cps.slice(pos, pos + n).join('');
    pos += n;
    return s;
  };
  for (const c of op ?? []) {
    if (typeof c === 'number') push('same', take(c));
    else if (typeof c === 'string') push('ins', c);
    else if (c && typeof c.d === 'number') push('del', take(c.d));
    else if (c && typeof c.d === 'string') push('del', take(Array.from(c.d).length));
    else throw new Error('unknown op component');
  }
  push('same', cps.slice(pos).join(''));
  return out;
}
