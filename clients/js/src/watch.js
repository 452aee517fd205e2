// Watching documents without editing them: a list page that shows titles and
// "last edited" live. The server has no change feed across documents (the
// SSE feed, GET /api/docs/{id}/events, is per document and carries ops and
// deletions only, not renames), so the watcher joins each document's room
// over the client's Socket.IO connection — with the version it already
// knows, so the join answers with the few ops since instead of the content —
// and passes on doc:meta (a rename), doc:op and doc:deleted. Each watched
// document counts as one join of this connection on the server (see
// --max-docs-per-socket, --max-joins-per-identity): watch only what is shown.

/** Documents one watcher joins at most (the server's default --max-docs-per-socket is 100). */
export const WATCH_MAX = 50;

export class Watcher {
  /**
   * @param {import('./client.js').Client} client
   * @param {{meta?: (id: string, m: {title: string, version?: number, updated?: string}) => void,
   *          op?: (id: string, version: number) => void,
   *          deleted?: (id: string) => void,
   *          joined?: (id: string) => void,
   *          max?: number}} [handlers]  joined: the server confirmed a join (events flow from then on)
   */
  constructor(client, { meta, op, deleted, joined, max = WATCH_MAX } = {}) {
    this.client = client;
    this.handlers = { meta, op, deleted, joined };
    this.max = max;
    /** id → last version seen */
    this.docs = new Map();
    this.onConnect = () => {
      for (const [id, version] of this.docs) this.join(id, version);
    };
    client.socket.on('connect', this.onConnect);
    client.watchers.add(this);
  }

  /** Starts watching `id`, known at `version`; false when the watcher is full. */
  add(id, version = 0) {
    if (typeof id !== 'string' || !id) throw new TypeError('watch: a document id is required');
    if (this.docs.has(id)) return true;
    if (this.docs.size >= this.max) return false;
    this.docs.set(id, Number.isInteger(version) && version >= 0 ? version : 0);
    if (this.client.socket.connected) this.join(id, this.docs.get(id));
    return true;
  }

  /** Stops watching `id`. */
  remove(id) {
    if (!this.docs.delete(id)) return;
    if (this.client.socket.connected) this.client.socket.emit('doc:leave', { doc: id }, () => {});
  }

  join(id, version) {
    this.client.socket.emit('doc:join', { doc: id, version }, (ack) => {
      if (!this.docs.has(id)) return;
      if (ack?.ok) {
        if (Number.isInteger(ack.version)) this.docs.set(id, ack.version);
        this.handlers.joined?.(id);
      } else if (ack?.error?.code === 'not_found') this.gone(id);
    });
  }

  gone(id) {
    this.docs.delete(id);
    this.handlers.deleted?.(id);
  }

  /** A server event of the client's connection (called by the Client). */
  handle(event, msg) {
    const id = msg?.doc;
    if (typeof id !== 'string' || !this.docs.has(id)) return;
    if (event === 'doc:meta') {
      this.handlers.meta?.(id, { title: typeof msg.title === 'string' ? msg.title : '', version: msg.version, updated: msg.updated });
    } else if (event === 'doc:op' && Number.isInteger(msg.version)) {
      if (msg.version > this.docs.get(id)) this.docs.set(id, msg.version);
      this.handlers.op?.(id, msg.version);
    } else if (event === 'doc:deleted') {
      this.gone(id);
    }
  }

  /** Leaves every watched document. */
  close() {
    for (const id of [...this.docs.keys()]) this.remove(id);
    this.client.socket.off('connect', this.onConnect);
    this.client.watchers.delete(this);
  }
}
