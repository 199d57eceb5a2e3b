// Where the bearer token comes from: given (--token, STAGEPLANE_TOKEN), a file (--token-file,
// STAGEPLANE_TOKEN_FILE: a mounted secret, a token another step wrote), or the CI platform's own
// OIDC token (--oidc, STAGEPLANE_OIDC_AUDIENCE), which the server accepts through a project's
// trust policy: a CI job then needs no stored secret and no extra script.
import { readFileSync } from 'node:fs';
import { ApiError, UsageError } from './errors.ts';

export type TokenSource =
  | { kind: 'none' }
  | { kind: 'value'; token: string }
  | { kind: 'file'; path: string }
  /** `audience` undefined: the server's own origin (what a trust policy's audience would usually name). */
  | { kind: 'oidc'; audience: string | undefined };

/**
 * Flags first, then variables; at most one flag. With `env` holding both a token and a file,
 * the token wins, as with the flags' order in the help.
 */
export function tokenSourceFrom(
  flags: { token?: string; tokenFile?: string; oidc?: boolean; oidcAudience?: string },
  env: Record<string, string | undefined>,
): TokenSource {
  const given = [
    flags.token !== undefined && '--token',
    flags.tokenFile !== undefined && '--token-file',
    (flags.oidc || flags.oidcAudience !== undefined) && '--oidc',
  ].filter(Boolean);
  if (given.length > 1) throw new UsageError(`${given.join(' and ')} are different token sources: give one`);
  if (flags.token !== undefined) return { kind: 'value', token: flags.token };
  if (flags.tokenFile !== undefined) return { kind: 'file', path: flags.tokenFile };
  if (flags.oidc || flags.oidcAudience !== undefined)
    return { kind: 'oidc', audience: flags.oidcAudience ?? nonEmpty(env.STAGEPLANE_OIDC_AUDIENCE) };
  if (nonEmpty(env.STAGEPLANE_TOKEN)) return { kind: 'value', token: env.STAGEPLANE_TOKEN! };
  if (nonEmpty(env.STAGEPLANE_TOKEN_FILE)) return { kind: 'file', path: env.STAGEPLANE_TOKEN_FILE! };
  if (nonEmpty(env.STAGEPLANE_OIDC_AUDIENCE)) return { kind: 'oidc', audience: env.STAGEPLANE_OIDC_AUDIENCE };
  return { kind: 'none' };
}

const nonEmpty = (v: string | undefined) => (v !== undefined && v.trim() !== '' ? v : undefined);

/** The token itself. A problem of the source (no file, no CI runtime) is a UsageError; a refusal by the runtime, UNAUTHENTICATED. */
export async function resolveToken(
  source: TokenSource,
  serverUrl: string,
  env: Record<string, string | undefined>,
): Promise<string | null> {
  switch (source.kind) {
    case 'none':
      return null;
    case 'value':
      return source.token.trim() || null;
    case 'file': {
      let text: string;
      try {
        text = readFileSync(source.path, 'utf8');
      } catch (error) {
        throw new UsageError(
          `cannot read the token file ${source.path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        );
      }
      const token = text.trim();
      if (!token) throw new UsageError(`the token file ${source.path} is empty`);
      if (/\s/.test(token)) throw new UsageError(`the token file ${source.path} must hold one token (it has spaces or several lines)`);
      return token;
    }
    case 'oidc':
      return githubActionsToken(source.audience ?? new URL(serverUrl).origin, env);
  }
}

/**
 * The job's OIDC token from the GitHub Actions runtime, requested as its toolkit does (core.getIDToken):
 * GET $ACTIONS_ID_TOKEN_REQUEST_URL with `audience` added, `Authorization: bearer
 * $ACTIONS_ID_TOKEN_REQUEST_TOKEN`; the answer is `{ "value": "<jwt>" }`. The job needs
 * `permissions: id-token: write`, without which the runtime sets neither variable.
 */
async function githubActionsToken(audience: string, env: Record<string, string | undefined>): Promise<string> {
  const requestUrl = nonEmpty(env.ACTIONS_ID_TOKEN_REQUEST_URL);
  const requestToken = nonEmpty(env.ACTIONS_ID_TOKEN_REQUEST_TOKEN);
  if (!requestUrl || !requestToken) {
    throw new UsageError(
      '--oidc needs the GitHub Actions runtime: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are unset (give the job `permissions: id-token: write`)',
    );
  }
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    throw new UsageError('ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
  }
  url.searchParams.set('audience', audience);
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: `bearer ${requestToken}`, accept: 'application/json' },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new ApiError('UNAUTHENTICATED', `could not get the job's OIDC token from the Actions runtime: ${(error as Error).message}`);
  }
  const body = (await response.json().catch(() => null)) as { value?: unknown } | null;
  if (!response.ok || typeof body?.value !== 'string' || body.value === '') {
    throw new ApiError('UNAUTHENTICATED', `the Actions runtime gave no OIDC token (HTTP ${response.status})`);
  }
  return body.value;
}
