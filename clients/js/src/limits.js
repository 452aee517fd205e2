// The server's limits (GET /api/limits), so that clients refuse what the
// server would refuse instead of finding out from an error. A server that
// does not have the route (404) gets DEFAULT_LIMITS.

/**
 * Used when the server does not publish its limits: the defaults of
 * cowrite's flags, and the editor's historical title length.
 */
export const DEFAULT_LIMITS = Object.freeze({
  maxOpBytes: 256 << 10,
  maxDocBytes: 10 << 20,
  maxTitleLength: 200,
  maxClientIdLength: 128,
  maxSelectionRanges: 64,
  maxPayloadBytes: 1_000_000,
});

/**
 * Fetches the limits. Missing or malformed fields keep their default; a 404
 * gives the defaults; any other failure is thrown (a RestError).
 * @param {(method: string, path: string) => Promise<any>} rest e.g. client.rest.bind(client)
 */
export async function fetchLimits(rest) {
  let data;
  try {
    data = await rest('GET', '/api/limits');
  } catch (e) {
    if (e?.status === 404) return { ...DEFAULT_LIMITS };
    throw e;
  }
  const out = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(DEFAULT_LIMITS)) {
    if (Number.isSafeInteger(data?.[k]) && data[k] > 0) out[k] = data[k];
  }
  return out;
}

const encoder = new TextEncoder();

/** UTF-8 length of a string, or of a CodeMirror Text (anything iterable over string chunks). */
export function utf8Length(text) {
  if (typeof text === 'string') return encoder.encode(text).length;
  let n = 0;
  for (const chunk of text) n += encoder.encode(chunk).length;
  return n;
}

/**
 * Why an edit would be refused by the server's size limits, or null. The
 * op's size is estimated as the server does (its JSON: each insert quoted,
 * plus a few bytes per component); the document's is counted only when it
 * could be over (3 UTF-8 bytes per UTF-16 unit at most).
 * @param {Partial<import('../index.js').Limits>} limits
 * @param {string[]} inserts the inserted strings
 * @param {number} docLength16 the document's length after the edit, in UTF-16 units
 * @param {() => number} docBytes its UTF-8 size after the edit (called only when needed)
 */
export function editTooLarge(limits, inserts, docLength16, docBytes) {
  let opBytes = 2;
  for (const s of inserts) opBytes += utf8Length(JSON.stringify(s)) + 12;
  if (limits.maxOpBytes > 0 && opBytes > limits.maxOpBytes) {
    return `This edit is too large: about ${opBytes} bytes, and the server accepts at most ${limits.maxOpBytes} in one edit.`;
  }
  if (limits.maxDocBytes > 0 && docLength16 * 3 > limits.maxDocBytes) {
    const n = docBytes();
    if (n > limits.maxDocBytes) return `The document would be too large: ${n} bytes, and the server keeps at most ${limits.maxDocBytes}.`;
  }
  return null;
}
