// Type declarations of @cowrite/client/codemirror.
import type { Annotation, Extension } from '@codemirror/state';
import type { EditorView } from '@codemirror/view';
import type { Doc } from './index.js';

/** Binds an editor to a live document; create the editor state with `doc: doc.text`. */
export declare function cowrite(doc: Doc, options?: { cursors?: boolean }): Extension;
/** Marks the transactions the binding dispatches (changes that did not come from this editor). */
export declare const remoteChange: ReturnType<typeof Annotation.define<boolean>>;
/** Black or white, whichever is more legible on the background colour. */
export declare function readableOn(hex: string): '#fff' | '#000';
export declare const remoteCursors: Extension;
export declare function setRemoteCursors(view: EditorView, peers: Array<{ name: string; color: string; ranges: Array<{ anchor: number; head: number }> }>): void;
