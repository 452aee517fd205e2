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

/**
 * Keeps each document's state in an IndexedDB object store (browsers), for
 * documents too large for localStorage's few megabytes. Every method returns
 * a promise; save() resolves to false when the write failed. Writes are
 * asynchronous: one started on `pagehide` may not finish if the page is
 * killed at once (localStorage, being synchronous, does not have that gap).
 * @param {{name?: string, store?: string, indexedDB?: IDBFactory}} [o]
 */
export function indexedDBPersistence({ name = 'cowrite', store = 'docs', indexedDB = globalThis.indexedDB } = {}) {
  let db = null;
  const open = () =>
    (db ??= new Promise((resolve, reject) => {
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(store);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    }));
  const run = async (mode, fn) => {
    const tx = (await open()).transaction(store, mode);
    const req = fn(tx.objectStore(store));
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = tx.onabort = () => reject(tx.error ?? req.error);
    });
  };
  return {
    load: (id) => run('readonly', (s) => s.get(id)).then((v) => v ?? null, () => null),
    save: (id, state) => run('readwrite', (s) => s.put(state, id)).then(() => true, () => false),
    clear: (id) => run('readwrite', (s) => s.delete(id)).then(() => {}, () => {}),
  };
}
