// Sign-in through the identity provider (OIDC_ISSUER with OIDC_CONSOLE_CLIENT_ID): the
// authorization code flow with PKCE, entirely in the page, with oauth4webapi. The page is a
// public client: no client secret; the code verifier, state and nonce live in this tab's
// sessionStorage only for the round trip. The access token the provider issues for the API
// (a JWT whose `aud` is OIDC_AUDIENCE) becomes the tab's token, kept as a pasted one is
// (token.ts); the server decides whether it is good.
import * as oauth from 'oauth4webapi';

export interface SignInConfig {
  issuer: string;
  clientId: string;
  scope: string;
}

/** Where the provider sends the browser back: this origin's own callback route. */
export const CALLBACK_PATH = '/auth/callback';
const PENDING = 'stageplane.oidc.pending';

/** What the server offers (`/console-config.json`); null when the page signs in with tokens only. */
export async function loadSignInConfig(): Promise<SignInConfig | null> {
  try {
    const response = await fetch('/console-config.json', { cache: 'no-cache', credentials: 'omit' });
    if (!response.ok) return null;
    const body = (await response.json()) as { signIn?: SignInConfig | null };
    return body.signIn ?? null;
  } catch {
    return null;
  }
}

const redirectUri = () => `${location.origin}${CALLBACK_PATH}`;

// An http issuer is only ever configured on loopback outside production (the server checks).
const insecure = (issuer: URL) => (issuer.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {});

async function discover(config: SignInConfig): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(config.issuer);
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure(issuer) });
  return oauth.processDiscoveryResponse(issuer, response);
}

/** Sends the browser to the provider's sign-in; `returnTo` is where to land after it. */
export async function beginSignIn(config: SignInConfig, returnTo: string): Promise<void> {
  const as = await discover(config);
  if (!as.authorization_endpoint) throw new Error('The identity provider has no authorization endpoint');
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, nonce, returnTo }));
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', config.scope);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  location.assign(url.href);
}

/**
 * On the callback route: exchanges the code for tokens and answers the token for the API and
 * where to go next. The callback's parameters are removed from the address at once.
 */
export async function completeSignIn(config: SignInConfig): Promise<{ token: string; returnTo: string }> {
  const here = new URL(location.href);
  history.replaceState(null, '', '/');
  const raw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  if (!raw) throw new Error('This sign-in was not started in this tab; start it again');
  const pending = JSON.parse(raw) as { verifier: string; state: string; nonce: string; returnTo: string };
  const as = await discover(config);
  const client: oauth.Client = { client_id: config.clientId };
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(as, client, here, pending.state);
  } catch (error) {
    const e = error as { error?: string; error_description?: string; message?: string };
    throw new Error(`The identity provider refused the sign-in: ${e.error_description ?? e.error ?? e.message}`);
  }
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    params,
    redirectUri(),
    pending.verifier,
    insecure(new URL(config.issuer)),
  );
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: pending.nonce, requireIdToken: true });
  // The access token is the API's (its audience OIDC_AUDIENCE); an opaque one is useless to it,
  // so then the ID token is offered instead and the server decides.
  const token = tokens.access_token.split('.').length === 3 ? tokens.access_token : (tokens.id_token ?? tokens.access_token);
  const returnTo = pending.returnTo.startsWith('/') && !pending.returnTo.startsWith('//') ? pending.returnTo : '/';
  return { token, returnTo };
}
