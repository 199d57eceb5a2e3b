// v2, verification and automatic rollback: on an environment's card, the releases quarantined
// there and the paused auto-deploy, each with the button that lifts it. The server decides who
// may (a deployer of the environment, or ADMIN): a refusal shows its message.
import { useState } from 'react';
import { errorsOf, request, type ServerError } from '../api.ts';
import { RELEASE_QUARANTINE, RESUME_AUTO_DEPLOY } from '../operations.ts';
import { useSession } from '../session.tsx';
import { ErrorList } from './ui.tsx';

export function ReleaseSafety({
  env,
  onChanged,
}: {
  env: { id: string; name: string; autoDeployPaused: boolean; quarantinedReleases: readonly { id: string; version: string }[] };
  onChanged(): void;
}) {
  const { token } = useSession();
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ errors: ServerError[] } | { message: string } | null>(null);
  if (!env.autoDeployPaused && env.quarantinedReleases.length === 0) return null;
  const run = async (label: string, work: () => Promise<unknown>) => {
    setBusy(true);
    setOutcome(null);
    try {
      await work();
      setOutcome({ message: label });
      onChanged();
    } catch (error) {
      setOutcome({ errors: errorsOf(error) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="release-safety">
      {env.autoDeployPaused ? (
        <p className="mark mark-paused">
          <span aria-hidden="true">⏸ </span>Auto-deploy paused after an automatic rollback{' '}
          <button
            type="button"
            className="button-secondary"
            disabled={busy}
            onClick={() => void run('Auto-deploy resumed.', () => request(RESUME_AUTO_DEPLOY, { environmentId: env.id }, token))}
          >
            Resume auto-deploy
          </button>
        </p>
      ) : null}
      {env.quarantinedReleases.length > 0 ? (
        <div>
          <p className="mark mark-quarantine">
            <span aria-hidden="true">⛔ </span>Quarantined here (failed verification):
          </p>
          <ul className="quarantine-list">
            {env.quarantinedReleases.map((r) => (
              <li key={r.id}>
                <strong>{r.version}</strong>{' '}
                <button
                  type="button"
                  className="button-secondary"
                  disabled={busy}
                  onClick={() =>
                    void run(`${r.version} released from quarantine.`, () =>
                      request(RELEASE_QUARANTINE, { input: { environmentId: env.id, releaseId: r.id } }, token),
                    )
                  }
                >
                  {/* The name says which release and where; what shows is its visible part (WCAG 2.5.3). */}
                  Release <span className="visually-hidden">{r.version} </span>from quarantine
                  <span className="visually-hidden"> in {env.name}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {outcome && 'errors' in outcome ? <ErrorList errors={outcome.errors} title="Refused" /> : null}
      {outcome && 'message' in outcome ? (
        <p role="status" className="ok-text">
          {outcome.message}
        </p>
      ) : null}
    </div>
  );
}
