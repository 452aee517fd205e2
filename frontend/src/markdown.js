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

const PREVIEW_KEY = 'cowrite:preview';

/**
 * The preview pane and its toggle button. `text()` gives the current text;
 * call `changed()` after every change (renders are batched and spaced by
 * their cost, so typing stays smooth on long documents).
 */
export function setupPreview(text) {
  const pane = h('section', { class: 'preview', 'aria-label': 'Preview', 'data-testid': 'preview', hidden: true });
  const button = h('button', { type: 'button', 'aria-pressed': 'false', 'aria-controls': 'preview', 'data-testid': 'preview-toggle' }, 'Preview');
  pane.id = 'preview';
  let timer = 0;
  let cost = 0; // ms the last render took
  const render = () => {
    if (pane.hidden) return;
    const t0 = performance.now();
    const html = renderMarkdown(text());
    const t1 = performance.now();
    pane.replaceChildren(html);
    const t2 = performance.now();
    cost = t2 - t0;
    pane.dataset.renderMs = `${(t1 - t0).toFixed(1)}+${(t2 - t1).toFixed(1)}`;
  };
  // Renders wait for idle time, and at least four times as long as the last
  // one took, so that on a long document they take at most a fifth of the
  // main thread while someone types.
  const idle = window.requestIdleCallback ? (fn) => requestIdleCallback(fn, { timeout: 1000 }) : (fn) => fn();
  const schedule = () => {
    timer = setTimeout(() => idle(() => {
      timer = 0;
      render();
    }), Math.max(60, 4 * cost));
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
    render();
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
      if (!pane.hidden && !timer) schedule();
    },
  };
}
