// Who the user is (a name and a colour shown to collaborators) and the
// per-document client state kept in localStorage.
import { localStoragePersistence } from '@cowrite/client';

const IDENTITY_KEY = 'cowrite:identity';
/** The longest name shown to collaborators (characters). */
export const NAME_MAX = 40;

const ADJECTIVES = ['Brave', 'Calm', 'Clever', 'Eager', 'Gentle', 'Happy', 'Jolly', 'Kind', 'Lively', 'Lucky', 'Merry', 'Nimble', 'Proud', 'Quick', 'Quiet', 'Swift', 'Witty', 'Bold', 'Bright', 'Keen'];
const ANIMALS = ['Otter', 'Fox', 'Heron', 'Lynx', 'Panda', 'Falcon', 'Koala', 'Badger', 'Robin', 'Marten', 'Puffin', 'Gecko', 'Bison', 'Ibis', 'Wombat', 'Orca', 'Hare', 'Owl', 'Crane', 'Yak'];
// Saturated colours with at least 4.5:1 contrast against white text.
export const COLORS = ['#c2410c', '#b91c1c', '#be185d', '#7e22ce', '#4338ca', '#1d4ed8', '#0e7490', '#047857', '#4d7c0f', '#a16207'];

const pick = (a) => a[Math.floor(Math.random() * a.length)];

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // disabled (privacy mode): everything still works, nothing persists
  }
}

/** @returns {{name:string, color:string}} */
export function loadIdentity() {
  const ls = storage();
  try {
    const v = JSON.parse(ls?.getItem(IDENTITY_KEY) ?? 'null');
    if (v && typeof v.name === 'string' && /^#[0-9a-f]{6}$/i.test(v.color)) return v;
  } catch {
    /* fall through */
  }
  const id = { name: `${pick(ADJECTIVES)} ${pick(ANIMALS)}`, color: pick(COLORS) };
  saveIdentity(id);
  return id;
}

export function saveIdentity(id) {
  try {
    storage()?.setItem(IDENTITY_KEY, JSON.stringify({ name: id.name.slice(0, NAME_MAX), color: id.color }));
  } catch {
    /* quota: ignore */
  }
}

/**
 * Claims a state slot for document `doc` in this tab. Two tabs of the same
 * browser on one document must not share a client id (the server dedupes ops
 * by client+seq), so each tab holds a Web Lock on its slot for its lifetime;
 * a reload releases and re-acquires the same slot, keeping the client id,
 * seq and unsent edits. A free slot that still holds unsent edits (a tab
 * closed while offline) is preferred, so they are sent by the next tab.
 * Without Web Locks (insecure origins) slot 0 is used.
 */
export async function claimSlot(doc) {
  const keyOf = (n) => `cowrite:doc:${doc}:${n}`;
  const hasPending = (n) => {
    try {
      const v = JSON.parse(storage()?.getItem(keyOf(n)) ?? 'null');
      return !!(v && (v.inflight || v.buffer));
    } catch {
      return false;
    }
  };
  const exists = (n) => {
    try {
      return storage()?.getItem(keyOf(n)) != null;
    } catch {
      return false;
    }
  };
  let chosen = 0;
  if (navigator.locks?.request) {
    // lock(n) → a release function, or null when another tab holds slot n.
    const lock = (n) =>
      new Promise((resolve) => {
        navigator.locks
          .request(`cowrite:${doc}:${n}`, { ifAvailable: true }, (l) => {
            if (!l) return resolve(null);
            return new Promise((release) => resolve(release)); // held until released or unload
          })
          .catch(() => resolve(null));
      });
    let held = null;
    chosen = -1;
    for (let n = 0; n < 16; n++) {
      if (held && !exists(n)) break; // nothing further to look at
      const release = await lock(n);
      if (!release) continue;
      if (!held) {
        held = release;
        chosen = n;
        if (hasPending(n)) break;
      } else if (hasPending(n)) {
        held();
        held = release;
        chosen = n;
        break;
      } else {
        release();
      }
    }
    if (chosen < 0) chosen = 0; // 16 tabs open: share slot 0 (best effort)
  }
  // The client package's localStorage adapter, under this slot's key.
  const key = keyOf(chosen);
  const store = localStoragePersistence(storage(), '');
  return {
    key,
    load: () => store.load(key),
    save: (_doc, state) => store.save(key, state),
    clear: () => {
      store.clear(key);
      store.clear(`${key}:undo`); // the editor's undo record (undo.js) goes with the state
    },
  };
}
