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
