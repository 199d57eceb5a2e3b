// Sign-in: through the identity provider when the server offers one (console/src/oidc.ts), or a
// token (from `npm run token`, an API token) checked against the server before it is kept.
import { useId, useState, type FormEvent } from 'react';
import type { ServerError } from '../api.ts';
import { ErrorList } from '../components/ui.tsx';

export function SignIn({
  onSignIn,
  provider,
  errors,
  busy,
}: {
  onSignIn(token: string): void;
  /** Sign-in through the identity provider; null when the server offers none. */
  provider: { onSignIn(): void } | null;
  errors: ServerError[] | null;
  busy: boolean;
}) {
  const [token, setToken] = useState('');
  const inputId = useId();
  const hintId = useId();
  const providerId = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (token.trim()) onSignIn(token.trim());
  };
  return (
    <main className="signin" id="main">
      <h1>Sign in to Stageplane</h1>
      {provider ? (
        <section className="card signin-card" aria-labelledby={providerId}>
          <h2 id={providerId}>Your organization’s account</h2>
          <p className="hint">Signs you in through your identity provider; the token it issues is kept in this tab only.</p>
          <button type="button" className="button-primary" disabled={busy} onClick={() => provider.onSignIn()}>
            Sign in with your identity provider
          </button>
        </section>
      ) : null}
      <form onSubmit={submit} className="card signin-card">
        {provider ? <h2>Or with a token (local use, scripts)</h2> : null}
        <p className="field">
          <label htmlFor={inputId}>Token</label>
          <input
            id={inputId}
            name="token"
            type="text"
            className="token-input"
            autoComplete="off"
            autoCapitalize="off"
            autoCorrect="off"
            spellCheck={false}
            aria-describedby={hintId}
            aria-invalid={errors ? true : undefined}
            value={token}
            onChange={(e) => setToken(e.target.value)}
            required
          />
        </p>
        <p id={hintId} className="hint">
          A bearer token: a JWT from <code>npm run token -- --sub alice --roles ADMIN,DEVELOPER</code>, or an API token. It is kept in this
          tab only and forgotten when you sign out or close the tab.
        </p>
        <p className="hint">
          Each tab keeps its own token: a production deployment is approved by someone other than its requester, so sign in as them (e.g.{' '}
          <code>--sub bob --roles APPROVER</code>) in another tab.
        </p>
        {errors ? <ErrorList errors={errors} title="Sign-in failed" /> : null}
        <button type="submit" className="button-primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
