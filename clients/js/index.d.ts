// Type declarations of @cowrite/client (hand-written; checked by `npm test`
// with tsc against test/types.ts).

/** An ot-text-unicode op: skip n, insert "text", delete {d: n} or {d: "text"}; positions in code points. */
export type OpComponent = number | string | { d: number | string };
export type Op = OpComponent[];

/** A selection range in code points of the document's text. */
export interface Range {
  anchor: number;
  head: number;
}

export type ConnState = 'connecting' | 'joining' | 'connected' | 'reconnecting' | 'offline' | 'error' | 'expired' | 'revoked';
export type SaveState = 'loading' | 'saving' | 'unsaved' | 'saved';

export interface Status {
  conn: ConnState;
  /** loading: no version yet; saving: sent, not acked; unsaved: kept locally while disconnected; saved: every edit acked */
  save: SaveState;
  /** false when the last local save failed (storage full or disabled) */
  storedLocally: boolean;
  editable: boolean;
  readOnly: boolean;
  deleted: boolean;
}

export interface Collaborator {
  name: string;
  color: string | undefined;
  ranges: Range[];
}

export interface Change {
  /** the op that changed the text, on the text before it */
  op: Op;
  /** 'local': applyOp/insert/delete (or the bound editor); 'remote': everything else */
  origin: 'local' | 'remote';
}

export type NoticeCode =
  | 'clear'
  | 'unauthorized'
  | 'auth_expired'
  | 'forbidden'
  | 'not_found'
  | 'join_failed'
  | 'history_lost'
  | 'merge_failed'
  | 'read_only'
  | 'op_rejected'
  | 'deleted'
  | 'too_large';

export interface Notice {
  code: NoticeCode;
  message: string;
  /** unsent text the user may want to copy (history_lost, merge_failed) */
  text?: string;
  error?: { code: string; message: string };
  /** auth_expired: 'expired' or 'revoked' */
  reason?: string;
}

/** Saved client state of one document. */
export interface SavedState {
  client: string;
  version: number;
  seq: number;
  inflight: { op: Op; seq: number } | null;
  buffer: Op | null;
  text: string;
  saved?: number;
}

/** Where a document's client state is kept between reloads; each method may be async. */
export interface Persistence {
  load(id: string): SavedState | null | Promise<SavedState | null>;
  save(id: string, state: SavedState): boolean | Promise<boolean>;
  clear(id: string): void | Promise<void>;
}

export interface Limits {
  maxOpBytes: number;
  maxDocBytes: number;
  maxTitleLength: number;
  maxClientIdLength: number;
  maxSelectionRanges: number;
  maxPayloadBytes: number;
}

export interface ConnectOptions {
  /** access token (servers with --auth-mode token) */
  token?: string;
  /** name and colour shown to collaborators (a token's claims win) */
  name?: string;
  color?: string;
  /** fetch used for REST calls (default: globalThis.fetch) */
  fetch?: typeof fetch;
  /** socket.io-client's io(), e.g. to share one installation */
  io?: (...args: any[]) => any;
  /** extra socket.io-client options */
  socket?: Record<string, unknown>;
  /** limits to respect (see fetchLimits) */
  limits?: Partial<Limits>;
  /** follow the browser's online/offline events (default true in browsers) */
  watchOnline?: boolean;
}

export interface OpenOptions {
  persistence?: Persistence | null;
  /** OT client id when there is no saved state (default: random) */
  clientId?: string;
  limits?: Partial<Limits>;
}

type Unsubscribe = () => void;

export declare class Doc {
  readonly id: string;
  readonly text: string;
  readonly version: number;
  readonly clientId: string;
  readonly status: Status;
  readonly pending: boolean;
  readonly saved: boolean;
  presence(): Collaborator[];
  insert(pos: number, text: string): void;
  delete(pos: number, n: number): void;
  applyOp(op: Op): void;
  setSelection(ranges: Range[]): void;
  readonly limits: Limits;
  /** why an edit would be refused for its size (see editTooLarge), or null */
  refusal(inserts: string[], length16: number, bytes: () => number): string | null;
  refused(message: string): void;
  persist(): void;
  synced(): Promise<void>;
  close(): void;
  on(event: 'change', fn: (c: Change) => void): Unsubscribe;
  on(event: 'presence', fn: (p: Collaborator[]) => void): Unsubscribe;
  on(event: 'status', fn: (s: Status) => void): Unsubscribe;
  on(event: 'notice', fn: (n: Notice) => void): Unsubscribe;
  on(event: 'joined', fn: () => void): Unsubscribe;
  /** the document's metadata changed (a rename, from any collaborator or REST) */
  on(event: 'meta', fn: (m: { title: string; version?: number; updated?: string }) => void): Unsubscribe;
  off(event: string, fn: (...args: any[]) => void): void;
}

export declare class Client {
  readonly url: string;
  readonly socket: any;
  openDoc(id: string, options?: OpenOptions): Promise<Doc>;
  setIdentity(identity: { name?: string; color?: string }): void;
  setToken(token: string): void;
  /** auth:refresh: a fresh token on the live connection (another user's token reconnects instead). */
  refreshToken(token: string, options?: { doc?: string; timeout?: number }): Promise<{ ok: boolean; role?: string; expires_at?: string; rejoin?: boolean; error?: { code: string; message: string } }>;
  reconnect(why?: string): void;
  rest<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** Watches documents' titles, edits and deletions without opening them (a document list). */
  watch(handlers?: WatchHandlers): Watcher;
  close(): void;
}

export interface WatchHandlers {
  /** a rename (doc:meta) */
  meta?: (id: string, m: { title: string; version?: number; updated?: string }) => void;
  /** an op was committed at `version` */
  op?: (id: string, version: number) => void;
  /** the document was deleted (or is gone) */
  deleted?: (id: string) => void;
  /** the server confirmed the join: events flow from then on */
  joined?: (id: string) => void;
  /** documents watched at most (default WATCH_MAX) */
  max?: number;
}

/** Joins documents' rooms to pass on their renames, ops and deletions. */
export declare class Watcher {
  constructor(client: Client, handlers?: WatchHandlers);
  /** starts watching `id`, known at `version`; false when the watcher is full */
  add(id: string, version?: number): boolean;
  remove(id: string): void;
  close(): void;
}
/** Documents one watcher joins at most. */
export declare const WATCH_MAX: number;

export declare function connect(url?: string, options?: ConnectOptions): Client;
export declare function randomId(n?: number): string;

export declare function indexedDBPersistence(o?: { name?: string; store?: string; indexedDB?: IDBFactory }): Persistence;
export declare function localStoragePersistence(storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>, prefix?: string): Persistence;

export declare const DEFAULT_LIMITS: Readonly<Limits>;
export declare function utf8Length(text: string | Iterable<string>): number;
export declare function editTooLarge(limits: Partial<Limits>, inserts: string[], docLength16: number, docBytes: () => number): string | null;
export declare function fetchLimits(rest: (method: string, path: string) => Promise<any>): Promise<Limits>;

export declare class RestError extends Error {
  status: number;
  code: string;
  reason?: string;
  constructor(status: number, code: string, message?: string, reason?: string);
}
export declare function request<T = any>(method: string, url: string, body?: unknown, o?: { token?: string; fetch?: typeof fetch; headers?: Record<string, string> }): Promise<T>;
export declare function docPath(id: string): string;

/** The pure sync state machine (see src/controller.js for events and effects). */
export declare class DocController {
  constructor(o: { doc: string; client: string; saved?: SavedState | null; now?: () => number; random?: () => number; limits?: Partial<Limits> });
  readonly text: string;
  readonly status: Status;
  presence(): Collaborator[];
  handle(ev: { type: string; [k: string]: unknown }): Array<{ type: string; [k: string]: unknown }>;
}
export declare function usableState(saved: unknown): SavedState | null;
export declare const OP_TIMEOUT: number;

export declare class OTClient {
  constructor(o: { client: string; version?: number; seq?: number; inflight?: { op: Op; seq: number } | null; buffer?: Op | null; onCommit?: (version: number, op: Op, client: string) => void });
  client: string;
  version: number;
  seq: number;
  hasPending(): boolean;
  local(op: Op): void;
  take(): { version: number; op: Op; seq: number } | null;
  ack(seq: number, version: number): Array<{ version: number; op: Op; client: string }>;
  remote(version: number, op: Op, client: string): Array<{ version: number; op: Op; client: string }>;
  disconnected(): void;
  snapshot(): Omit<SavedState, 'text'>;
}

export declare class Peers {
  update(m: unknown, current: number): void;
  commit(version: number, op: Op, client: string): void;
  display(version: number, pending: Array<Op | null | undefined>): Collaborator[];
  clear(): void;
}

export declare const offsets: {
  cpLength(s: string): number;
  utf16ToCp(text: string, u16: number, bmp?: boolean): number;
  cpToUtf16(text: string, cp: number, bmp?: boolean): number;
  changesToOp(text: string, changes: Array<{ from: number; to: number; insert: string }>, bmp?: boolean): Op;
  opToChanges(text: string, op: Op, bmp?: boolean): Array<{ from: number; to: number; insert: string }>;
  diffOp(from: string, to: string): Op;
  /** like diffOp, but unchanged lines are kept (a line diff, then diffOp inside changed blocks) */
  lineDiffOp(from: string, to: string): Op;
  hasSurrogates(s: string): boolean;
  transformCursor(cursor: number, op: Op, push?: boolean): number;
};
