// Collaborators' presence in server coordinates, kept current as ops commit.
//
// A collaborator's selection arrives in code points at some server version.
// It is brought to our version through the committed ops we keep, moved
// through every later committed op, and — for drawing — through our pending
// (unacknowledged) ops, which the server has not seen.

import { type } from 'ot-text-unicode';
import { transformCursor } from './offsets.js';

const KEEP = 500; // committed ops kept to catch up late presence messages

const moveAll = (sel, op, push) => sel.map((r) => ({ anchor: transformCursor(r.anchor, op, push), head: transformCursor(r.head, op, push) }));

export class Peers {
  constructor() {
    /** key → {client, user, version, selection|null} */
    this.map = new Map();
    /** version → {op, client} */
    this.recent = new Map();
  }

  /** An op was committed as `version` (our own included), in server coordinates. */
  commit(version, op, client) {
    this.recent.set(version, { op, client });
    this.recent.delete(version - KEEP);
    for (const p of this.map.values()) {
      if (p.selection && p.version === version - 1) {
        p.selection = moveAll(p.selection, op, p.client === client);
        p.version = version;
      }
    }
  }

  /**
   * A doc:presence event (or an entry of the join's presence list). `current`
   * is the version we have integrated. selection null: the collaborator left.
   */
  update(m, current) {
    const key = m?.client ?? m?.user?.id;
    if (!key) return;
    if (m.selection === null) {
      this.map.delete(key);
      return;
    }
    if (!Array.isArray(m.selection)) {
      if (!this.map.has(key)) this.map.set(key, { client: m.client, user: m.user ?? {}, version: current, selection: null });
      return;
    }
    let selection = m.selection.filter((r) => Number.isInteger(r?.anchor) && Number.isInteger(r?.head) && r.anchor >= 0 && r.head >= 0);
    let version = Number.isInteger(m.version) ? m.version : current;
    while (version < current && this.recent.has(version + 1)) {
      const { op, client } = this.recent.get(version + 1);
      selection = moveAll(selection, op, client === m.client);
      version++;
    }
    this.map.set(key, { client: m.client, user: m.user ?? {}, version, selection });
  }

  clear() {
    this.map.clear();
  }

  /** Everyone present: [{name, color}]. */
  list() {
    return [...this.map.values()].map((p) => ({ name: p.user?.name || 'Anonymous', color: p.user?.color }));
  }

  /**
   * Selections to draw, in code points of our local text: version is the one
   * we integrated, pending our unacknowledged ops in order (in-flight, buffer).
   */
  display(version, pending) {
    const out = [];
    for (const p of this.map.values()) {
      if (!p.selection) continue;
      let ranges = p.selection;
      if (p.version === version) {
        for (const op of pending) {
          if (op) ranges = ranges.map((r) => ({ anchor: type.transformPosition(r.anchor, op), head: type.transformPosition(r.head, op) }));
        }
      }
      out.push({ name: p.user?.name || 'Anonymous', color: p.user?.color, ranges });
    }
    return out;
  }
}
