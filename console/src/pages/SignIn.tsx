// Sign-in: a token (from `npm run token`) checked against the server before it is kept.
import { useId, useState, type FormEvent } from 'react';
import type { ServerError } from '../api.ts';
import { ErrorList } from '../components/ui.tsx';

export function SignIn({ onSignIn, errors, busy }: { onSignIn(token: string): void; errors: ServerError[] | null; busy: boolean }) {
  const [token, setToken] = useState('');
  const inputId = useId();
  const hintId = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (token.trim()) onSignIn(token.trim());
  };
  return (
    <main className="signin" id="main">
      <h1>Sign in to Stageplane</h1>
      <form onSubmit={submit} className="card signin-card">
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
