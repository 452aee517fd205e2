// Markdown in the editor: syntax colouring (CodeMirror's Markdown language
// with a highlight style on the page's colour variables, so it follows the
// theme) and a sanitized live preview (markdown-it, then DOMPurify).
import { markdown } from '@codemirror/lang-markdown';
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { tags as t } from '@lezer/highlight';
import MarkdownIt from 'markdown-it';
import DOMPurify from 'dompurify';
import { h } from './dom.js';

const style = HighlightStyle.define([
  { tag: t.heading1, fontWeight: '700', fontSize: '1.25em', color: 'var(--md-heading)' },
  { tag: t.heading2, fontWeight: '700', fontSize: '1.12em', color: 'var(--md-heading)' },
  { tag: [t.heading3, t.heading4, t.heading5, t.heading6], fontWeight: '700', color: 'var(--md-heading)' },
  { tag: t.strong, fontWeight: '700' },
  { tag: t.emphasis, fontStyle: 'italic' },
  { tag: t.strikethrough, textDecoration: 'line-through' },
  { tag: [t.link, t.url], color: 'var(--accent)' },
  { tag: t.monospace, color: 'var(--md-code)' },
  { tag: t.quote, color: 'var(--muted)', fontStyle: 'italic' },
  { tag: [t.processingInstruction, t.meta, t.contentSeparator], color: 'var(--muted)' },
  { tag: t.list, color: 'var(--md-list)' },
]);

/** The editor extensions for Markdown colouring. */
export const markdownEditing = [markdown(), syntaxHighlighting(style)];

// linkify is left out: it makes rendering a long note several times slower.
const md = new MarkdownIt({ html: true });

/**
 * Markdown → a sanitized DocumentFragment (no scripts, no event handlers, no
 * javascript: links). A fragment, not a string: the HTML is parsed once.
 */
export function renderMarkdown(text) {
  return DOMPurify.sanitize(md.render(text), { RETURN_DOM_FRAGMENT: true });
}

/**
 * Cuts Markdown into top-level blocks that render alone as they render in
 * the whole: a block ends at a blank line followed by a line that starts in
 * column 0 (an indented line continues a list item or code), never inside a
 * fenced code block. Link reference definitions (`[x]: url`) are collected
 * in `refs`, to be rendered with every block. (HTML blocks and comments that
 * span blank lines are cut like paragraphs: a known difference.)
 * @returns {{blocks: string[], refs: string}}
 */
export function splitBlocks(text) {
  const blocks = [];
  const refs = [];
  let cur = [];
  let blanks = [];
  let fence = null; // the opening fence's character and length
  for (const line of text.split('\n')) {
    if (fence) {
      cur.push(line);
      const m = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length) fence = null;
      continue;
    }
    if (/^[ \t]*$/.test(line)) {
      if (cur.length) blanks.push(line);
      continue;
    }
    if (blanks.length) {
      if (/^\S/.test(line)) {
        blocks.push(cur.join('\n'));
        cur = [];
      } else {
        cur.push(...blanks);
      }
      blanks = [];
    }
    cur.push(line);
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (open && !(open[1][0] === '`' && line.slice(open[0].length).includes('`'))) fence = open[1];
    else if (/^ {0,3}\[[^\]]+\]:/.test(line)) refs.push(line);
  }
  if (cur.length) blocks.push(cur.join('\n'));
  return { blocks, refs: refs.join('\n') };
}

const PREVIEW_KEY = 'cowrite:preview';
/** A render pass works at most this long (ms) before yielding to the page. */
export const PREVIEW_SLICE_MS = 6;
/** Renders start at least this long after the last change (ms). */
export const PREVIEW_DEBOUNCE_MS = 60;

/**
 * The preview pane and its toggle button. `text()` gives the current text;
 * call `changed()` after every change.
 *
 * Rendering stays off the keystroke path: a change only schedules a pass
 * (debounced, then in idle time). A pass cuts the text into blocks
 * (splitBlocks) and renders only the blocks that are not on the pane already
 * — one or two while someone types — in slices of PREVIEW_SLICE_MS, then
 * replaces the changed run of blocks in the DOM. The first render of a long
 * document is sliced the same way, so the page keeps responding.
 */
export function setupPreview(text) {
  const pane = h('section', { class: 'preview', 'aria-label': 'Preview', 'data-testid': 'preview', hidden: true });
  const button = h('button', { type: 'button', 'aria-pressed': 'false', 'aria-controls': 'preview', 'data-testid': 'preview-toggle' }, 'Preview');
  pane.id = 'preview';
  /** The blocks on the pane: [{key, node}] */
  let shown = [];
  /** key → rendered node, for the pass under way */
  let cache = new Map();
  let timer = 0;
  let pass = null; // {keys, sources, next, ms}: the pass under way
  let dirty = false;
  let slowest = 0;

  const idle = window.requestIdleCallback
    ? (fn) => requestIdleCallback(fn, { timeout: 500 })
    : (fn) => setTimeout(() => fn({ timeRemaining: () => PREVIEW_SLICE_MS }), 0);
  let queued = false; // a slice is waiting for idle time
  const kick = () => {
    if (queued) return;
    queued = true;
    idle((deadline) => {
      queued = false;
      step(deadline);
    });
  };

  const startPass = () => {
    dirty = false;
    const { blocks, refs } = splitBlocks(text());
    const tail = refs ? `\n\n${refs}` : '';
    const keys = blocks.map((b) => `${refs}\u0000${b}`);
    for (const b of shown) if (!cache.has(b.key)) cache.set(b.key, b.node);
    pass = { keys, sources: blocks.map((b) => b + tail), next: 0, ms: pass?.ms ?? 0 };
  };

  const block = (src) => {
    const div = document.createElement('div');
    div.className = 'md-block';
    div.append(renderMarkdown(src));
    return div;
  };

  const step = (deadline) => {
    if (pane.hidden) {
      pass = null;
      return;
    }
    const t0 = performance.now();
    if (dirty || !pass) startPass();
    const budget = Math.min(PREVIEW_SLICE_MS, Math.max(1, deadline.timeRemaining()));
    const { keys, sources } = pass;
    while (pass.next < keys.length) {
      const k = keys[pass.next];
      if (!cache.has(k)) cache.set(k, block(sources[pass.next]));
      pass.next++;
      if (performance.now() - t0 > budget) break;
    }
    const took = performance.now() - t0;
    pass.ms += took;
    slowest = Math.max(slowest, took);
    pane.dataset.sliceMaxMs = slowest.toFixed(1); // the longest slice so far (reported by the browser test)
    if (pass.next < keys.length) return kick(); // more to render: yield first
    const t1 = performance.now();
    patch(keys);
    const t2 = performance.now();
    pane.dataset.renderMs = `${pass.ms.toFixed(1)}+${(t2 - t1).toFixed(1)}`;
    pane.dataset.blocks = String(keys.length);
    pass = null;
    if (dirty) schedule();
  };

  // Replaces the blocks between the unchanged head and tail.
  const patch = (keys) => {
    let head = 0;
    while (head < shown.length && head < keys.length && shown[head].key === keys[head]) head++;
    let tail = 0;
    while (tail < shown.length - head && tail < keys.length - head && shown[shown.length - 1 - tail].key === keys[keys.length - 1 - tail]) tail++;
    const kept = [...shown.slice(0, head), ...shown.slice(shown.length - tail)];
    for (const b of shown.slice(head, shown.length - tail)) b.node.remove();
    const used = new Set(kept.map((b) => b.node));
    const middle = keys.slice(head, keys.length - tail).map((key) => {
      let node = cache.get(key);
      if (used.has(node)) node = node.cloneNode(true); // the same block twice
      used.add(node);
      return { key, node };
    });
    const before = tail ? shown[shown.length - tail].node : null;
    for (const b of middle) pane.insertBefore(b.node, before);
    shown = [...shown.slice(0, head), ...middle, ...shown.slice(shown.length - tail)];
    cache = new Map();
  };

  const schedule = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = 0;
      kick();
    }, PREVIEW_DEBOUNCE_MS);
  };

  const show = (on) => {
    pane.hidden = !on;
    button.setAttribute('aria-pressed', String(on));
    try {
      if (on) localStorage.setItem(PREVIEW_KEY, '1');
      else localStorage.removeItem(PREVIEW_KEY);
    } catch {
      /* not remembered */
    }
    if (on) {
      dirty = true;
      kick();
    }
  };
  button.addEventListener('click', () => show(pane.hidden));
  let remembered = false;
  try {
    remembered = localStorage.getItem(PREVIEW_KEY) === '1';
  } catch {
    /* storage disabled */
  }
  if (remembered) show(true);
  return {
    pane,
    button,
    changed() {
      if (pane.hidden) return;
      dirty = true;
      if (!pass && !queued) schedule();
    },
  };
}
