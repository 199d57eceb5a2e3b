// The token lives in this tab's sessionStorage only: never localStorage, a cookie, a URL the
// page requests or a log. `/#token=<token>` signs in once; the fragment is removed at once.
const KEY = 'stageplane.token';

export const storedToken = (): string | null => {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
};

export const storeToken = (token: string) => sessionStorage.setItem(KEY, token);

export const forgetToken = () => sessionStorage.removeItem(KEY);

/** The token of a `#token=...` fragment, which is then dropped from the address and history. */
export function takeTokenFromFragment(): string | null {
  if (!location.hash.startsWith('#')) return null;
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (token === null) return null;
  params.delete('token');
  const rest = params.toString();
  history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  return token.trim() || null;
}
