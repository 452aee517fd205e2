// Persistence adapters for openDoc({ persistence }): where a document's
// client state (client id, seq, version, pending ops, text) is kept so that
// edits survive a reload or a closed tab and are resent with the same
// (client, seq). An adapter is { load(id), save(id, state) → boolean, clear(id) };
// each may also return a promise.

/**
 * Keeps each document's state as JSON under `${prefix}${id}` in a Web
 * Storage (localStorage by default). save() answers false when the storage
 * is full or disabled; the document then reports `storedLocally: false`.
 * @param {Storage} [storage]
 * @param {string} [prefix]
 */
export function localStoragePersistence(storage = globalThis.localStorage, prefix = 'cowrite:doc:') {
  return {
    load(id) {
      try {
        return JSON.parse(storage.getItem(prefix + id) ?? 'null');
      } catch {
        return null;
      }
    },
    save(id, state) {
      try {
        storage.setItem(prefix + id, JSON.stringify(state));
        return true;
      } catch {
        return false;
      }
    },
    clear(id) {
      try {
        storage.removeItem(prefix + id);
      } catch {
        /* disabled storage: nothing kept */
      }
    },
  };
}
