// The access token for servers running with authentication (a JWT), kept in
// localStorage. Reading it has no side effect; taking one from a link is an
// explicit step at start-up (adoptTokenFromUrl).

const TOKEN_KEY = 'cowrite:token';

/** The stored token, or ''. */
export function readToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

/** Stores `t` (or forgets the token when `t` is empty). */
export function storeToken(t) {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t.trim());
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the token lives for this page only */
  }
}

/**
 * A link may carry a token as #token=… (or ?token=…): it is stored and
 * removed from the address bar, so copied links do not leak it. A different
 * token already stored is replaced only when the user confirms.
 */
export function adoptTokenFromUrl() {
  const url = new URL(location.href);
  const t = new URLSearchParams(url.hash.slice(1)).get('token') ?? url.searchParams.get('token');
  if (t === null) return;
  const current = readToken();
  // Replacing a stored token silently would let any link switch identities.
  if (!current || current === t.trim() || window.confirm('This link carries a different access token. Use it instead of the one this browser has stored?')) storeToken(t);
  url.searchParams.delete('token');
  history.replaceState(null, '', url.pathname + url.search);
}
