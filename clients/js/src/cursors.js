// CodeMirror extension drawing collaborators' cursors and selections in their
// colour, with a name label. Positions are given in UTF-16 offsets of the
// current editor document; between updates the decorations are mapped
// through local edits.

import { StateEffect, StateField } from '@codemirror/state';
import { Decoration, EditorView, WidgetType } from '@codemirror/view';

const setRemote = StateEffect.define();

class CursorWidget extends WidgetType {
  constructor(name, color) {
    super();
    this.name = name;
    this.color = color;
  }
  eq(other) {
    return other.name === this.name && other.color === this.color;
  }
  toDOM() {
    const caret = document.createElement('span');
    caret.className = 'cw-remote-cursor';
    caret.style.borderLeftColor = this.color;
    caret.setAttribute('aria-hidden', 'true');
    const label = document.createElement('span');
    label.className = 'cw-remote-cursor-label';
    label.style.backgroundColor = this.color;
    label.style.color = readableOn(this.color);
    label.textContent = this.name;
    caret.appendChild(label);
    return caret;
  }
  ignoreEvent() {
    return true;
  }
}

const remoteField = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) if (e.is(setRemote)) deco = e.value;
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** Black or white, whichever is more legible on the background colour `hex`. */
export function readableOn(hex) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(hex ?? '');
  if (!m) return '#fff';
  const lin = (x) => {
    const c = parseInt(x, 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const L = 0.2126 * lin(m[1]) + 0.7152 * lin(m[2]) + 0.0722 * lin(m[3]);
  // contrast with white: 1.05/(L+0.05); with black: (L+0.05)/0.05
  return 1.05 / (L + 0.05) >= (L + 0.05) / 0.05 ? '#fff' : '#000';
}

/** The extension to add to the editor. */
export const remoteCursors = [remoteField];

/**
 * Replaces the remote cursors.
 * @param {EditorView} view
 * @param {{name:string,color:string,ranges:{anchor:number,head:number}[]}[]} peers
 *   ranges in UTF-16 offsets of view.state.doc
 */
export function setRemoteCursors(view, peers) {
  const len = view.state.doc.length;
  const clamp = (x) => Math.max(0, Math.min(len, x | 0));
  const ranges = [];
  for (const p of peers) {
    for (const r of p.ranges) {
      const a = clamp(r.anchor);
      const h = clamp(r.head);
      if (a !== h) {
        ranges.push(
          Decoration.mark({
            class: 'cw-remote-selection',
            attributes: { style: `background-color: ${p.color}33` },
          }).range(Math.min(a, h), Math.max(a, h)),
        );
      }
      ranges.push(Decoration.widget({ widget: new CursorWidget(p.name, p.color), side: 1 }).range(h));
    }
  }
  view.dispatch({ effects: setRemote.of(Decoration.set(ranges, true)) });
}
