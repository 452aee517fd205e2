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

const md = new MarkdownIt({ html: true, linkify: true });

/** Markdown → sanitized HTML (no scripts, no event handlers, no javascript: links). */
export function renderMarkdown(text) {
  return DOMPurify.sanitize(md.render(text));
}

const PREVIEW_KEY = 'cowrite:preview';

/**
 * The preview pane and its toggle button. `text()` gives the current text;
 * call `changed()` after every change (renders are batched, at most one per
 * 60 ms, so typing stays smooth on long documents).
 */
export function setupPreview(text) {
  const pane = h('section', { class: 'preview', 'aria-label': 'Preview', 'data-testid': 'preview', hidden: true });
  const button = h('button', { type: 'button', 'aria-pressed': 'false', 'aria-controls': 'preview', 'data-testid': 'preview-toggle' }, 'Preview');
  pane.id = 'preview';
  let timer = 0;
  const render = () => {
    timer = 0;
    if (!pane.hidden) pane.innerHTML = renderMarkdown(text());
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
      if (!pane.hidden && !timer) timer = setTimeout(render, 60);
    },
  };
}
