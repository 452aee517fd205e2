// @cowrite/client: a live Cowrite document in a few lines (see README.md).
export { connect, Client, Doc, randomId } from './client.js';
export { DocController, usableState, OP_TIMEOUT } from './controller.js';
export { OTClient } from './ot-client.js';
export { Watcher, WATCH_MAX } from './watch.js';
export { Peers } from './peers.js';
export { localStoragePersistence, indexedDBPersistence } from './storage.js';
export { request, RestError, docPath } from './rest.js';
export { DEFAULT_LIMITS, fetchLimits, editTooLarge, utf8Length } from './limits.js';
export * as offsets from './offsets.js';
