// A small JSON client for Cowrite's REST API (SPEC.md §4): one function that
// sends a request with the bearer token and turns error bodies
// `{ "error": { code, message } }` into a RestError.

export class RestError extends Error {
  /**
   * @param {number} status HTTP status (0: the server could not be reached)
   * @param {string} code   the error code of the body, `network` or `http`
   * @param {string} [message]
   * @param {string} [reason] the body's error reason (e.g. "deleted", "open_mode")
   */
  constructor(status, code, message, reason) {
    super(message || `HTTP ${status}`);
    this.name = 'RestError';
    this.status = status;
    this.code = code;
    this.reason = reason;
  }
}

/**
 * Sends `method path` with an optional JSON body and returns the parsed JSON
 * answer (null when empty).
 * @param {string} method
 * @param {string} url      absolute, or relative to the page
 * @param {unknown} [body]
 * @param {{token?: string, fetch?: typeof fetch, headers?: Record<string, string>}} [o]
 *   headers: extra request headers (e.g. `X-Cowrite-Name`, the author of a
 *   named version in open mode)
 */
export async function request(method, url, body, { token = '', fetch: fetchFn = globalThis.fetch, headers = {} } = {}) {
  const init = { method, headers: { ...headers, Accept: 'application/json' } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetchFn(url, init);
  } catch {
    throw new RestError(0, 'network', 'The server cannot be reached.');
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data?.error;
    throw new RestError(res.status, err?.code ?? 'http', err?.message ?? `${res.status} ${res.statusText}`, err?.reason);
  }
  return data;
}

/** The REST path of a document. */
export const docPath = (id) => `/api/docs/${encodeURIComponent(id)}`;
