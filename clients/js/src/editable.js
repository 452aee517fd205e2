// Whether the bound editor accepts input: a state field fed by an effect, so
// the binding can switch it without owning a compartment of the editor.
import { StateEffect, StateField } from '@codemirror/state';
import { EditorView } from '@codemirror/view';

export const setEditable = StateEffect.define();

export const editableField = StateField.define({
  create: () => true,
  update(on, tr) {
    for (const e of tr.effects) if (e.is(setEditable)) on = e.value;
    return on;
  },
  provide: (f) => EditorView.editable.from(f),
});
