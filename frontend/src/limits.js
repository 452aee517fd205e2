// The server's limits (GET /api/limits; the client package's defaults when
// the server does not publish them), loaded once per page.
import { fetchLimits, DEFAULT_LIMITS } from '@cowrite/client';
import { api } from './rest.js';

let loading = null;

/** Resolves to the limits; never rejects (falls back to the defaults). */
export function loadLimits() {
  loading ??= fetchLimits(api).catch(() => ({ ...DEFAULT_LIMITS }));
  return loading;
}
