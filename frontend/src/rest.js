// The REST calls of the pages (SPEC.md §4), on the client package's request()
// with the stored token.
import { request, docPath, RestError } from '@cowrite/client';
import { readToken } from './token.js';

export { docPath, RestError as ApiError };

/** method path [body] [headers] → the parsed JSON answer; throws an ApiError. */
export function api(method, path, body, headers) {
  return request(method, path, body, { token: readToken(), headers });
}

/** Lists documents, following the pagination cursor. */
export async function listDocs() {
  const out = [];
  let cursor = '';
  for (let page = 0; page < 50; page++) {
    const data = await api('GET', `/api/docs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const docs = Array.isArray(data) ? data : (data?.docs ?? data?.items ?? data?.documents ?? []);
    out.push(...docs);
    cursor = data?.next_cursor ?? data?.nextCursor ?? data?.cursor ?? '';
    if (!cursor || docs.length === 0) break;
  }
  return out;
}
