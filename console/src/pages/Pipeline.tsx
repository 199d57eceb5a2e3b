// A project's pipeline: its environments left to right in pipeline order, each a region named
// after the environment, following `projectEvents` live (no reload, no polling).
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { errorsOf, request, type ServerError } from '../api.ts';
import { ConfirmDialog, ErrorList, Loading, PageTitle, ProgressBar, StatusBadge, Time, type ConfirmRequest } from '../components/ui.tsx';
import { formatTime, isTerminal, sentence, shortSha, TRIGGER_LABEL } from '../format.ts';
import type { ResultOf } from '../graphql.ts';
import { patchDeployment } from '../live-patch.ts';
import { APPROVE, CANCEL, PIPELINE, PROJECT_EVENTS, PROMOTE, RECORD_PUSH, REJECT, ROLLBACK } from '../operations.ts';
import { ReleaseSafety } from '../components/release-safety.tsx';
import { Link, paths } from '../router.tsx';
import { useLoader, useSession, type Loaded } from '../session.tsx';
import { ScrollBox } from '../components/ScrollBox.tsx';

type PipelineData = ResultOf<typeof PIPELINE>;
type Project = NonNullable<PipelineData['project']>;
type Env = Project['environments'][number];
type Card = NonNullable<Env['activeDeployment']>;
type LiveEvent = ResultOf<typeof PROJECT_EVENTS>['projectEvents'];
type Decided = { id: string; status: string; release: { version: string } };
type Outcome = { errors: ServerError[] } | { message: string; deploymentId: string };

function applyEvent(data: PipelineData, event: LiveEvent): PipelineData {
  if (!data.project) return data;
  const patch = (card: Card | null) =>
    card && card.id === event.deploymentId ? patchDeployment(card, event, { progressWithoutSteps: 'event' }) : card;
  return {
    ...data,
    project: {
      ...data.project,
      environments: data.project.environments.map((env) => ({
        ...env,
        activeDeployment: patch(env.activeDeployment),
        deployments: { ...env.deployments, edges: env.deployments.edges.map((e) => ({ ...e, node: patch(e.node)! })) },
      })),
      deployments: {
        ...data.project.deployments,
        edges: data.project.deployments.edges.map((e) =>
          e.node.id === event.deploymentId ? { ...e, node: { ...e.node, status: event.status } } : e,
        ),
      },
    },
  };
}

const knows = (data: PipelineData | null, deploymentId: string) =>
  !!data?.project?.environments.some(
    (env) => env.activeDeployment?.id === deploymentId || env.deployments.edges.some((e) => e.node.id === deploymentId),
  );

export function PipelinePage({ slug }: { slug: string }) {
  const session = useSession();
  const pipeline = useLoader(() => request(PIPELINE, { slug }, session.token));
  const latest = useRef<Loaded<PipelineData>>(pipeline);
  latest.current = pipeline;
  const [liveErrors, setLiveErrors] = useState<ServerError[] | null>(null);
  const [dialog, setDialog] = useState<ConfirmRequest | null>(null);
  const [outcomes, setOutcomes] = useState<Record<string, Outcome | undefined>>({});
  const [busy, setBusy] = useState<Record<string, boolean>>({});

  useEffect(() => {
    const stop = session.live.subscribe(PROJECT_EVENTS, () => ({ slug }), {
      next: ({ projectEvents: event }) => {
        setLiveErrors(null);
        const page = latest.current;
        const known = knows(page.data, event.deploymentId);
        page.update((data) => applyEvent(data, event));
        // Progress of a deployment on the page is patched in place; anything else (a new
        // deployment, a decision, an end that moves the current release) reads the pipeline again.
        if (!known || event.type !== 'STEP_PROGRESS') page.reloadSoon();
      },
      error: setLiveErrors,
    });
    // Events missed while the connection was down: read the pipeline again.
    const off = session.live.onReconnected(() => latest.current.reloadSoon());
    return () => {
      stop();
      off();
    };
  }, [session.live, slug]);

  const project = pipeline.data?.project;
  if (pipeline.loading && !pipeline.data) return <Loading what="the pipeline" />;
  if (!project) {
    return (
      <>
        <PageTitle>Project {slug}</PageTitle>
        {pipeline.errors ? <ErrorList errors={pipeline.errors} /> : <p>No project with the slug {slug}.</p>}
        <p>
          <Link to={paths.projects()}>All projects</Link>
        </p>
      </>
    );
  }

  const act = async (env: Env, label: string, run: () => Promise<Decided>) => {
    setBusy((b) => ({ ...b, [env.id]: true }));
    setOutcomes((o) => ({ ...o, [env.id]: undefined }));
    try {
      const d = await run();
      setOutcomes((o) => ({ ...o, [env.id]: { message: `${label}: ${d.release.version}`, deploymentId: d.id } }));
      pipeline.reloadSoon();
    } catch (error) {
      setOutcomes((o) => ({ ...o, [env.id]: { errors: errorsOf(error) } }));
    } finally {
      setBusy((b) => ({ ...b, [env.id]: false }));
    }
  };
  const token = session.token;
  const actions: EnvActions = {
    reload: () => pipeline.reloadSoon(),
    promote: (env) => {
      const source = project.environments.find((e) => e.slug === env.promotesFrom?.slug);
      // Frozen by a window: a viewer holding a role of freezeOverrideRoles may break the glass with
      // a reason (the server decides; this only offers the field to those it would accept).
      const freeze = env.activeFreeze;
      const mayOverride =
        !!freeze && (session.roles.includes('ADMIN') || env.policy.freezeOverrideRoles.some((r) => session.roles.includes(r)));
      setDialog({
        action: 'Promote',
        title: `Promote to ${env.name}?`,
        body: (
          <>
            <p>
              Deploys {source?.currentRelease ? <strong>{source.currentRelease.version}</strong> : 'the current release'}, the current
              release of {env.promotesFrom?.name ?? 'the upstream environment'}, to {env.name}.
            </p>
            {env.policy.trigger === 'APPROVAL_REQUIRED' ? (
              <p>
                It then waits for {env.policy.requiredApprovals} approval{env.policy.requiredApprovals === 1 ? '' : 's'}
                {env.policy.approverRoles.length ? ` by ${env.policy.approverRoles.join(' or ')}` : ''}.
              </p>
            ) : null}
            {freeze ? (
              <p>
                {env.name} is frozen by <strong>{freeze.name}</strong> ({freeze.reason}) until{' '}
                <Time iso={freeze.nextOccurrence?.endsAt ?? null} />.{' '}
                {mayOverride
                  ? 'To override the freeze, give a reason: someone else must then approve the deployment.'
                  : 'The promotion will be refused until it ends.'}
              </p>
            ) : null}
          </>
        ),
        comment: mayOverride ? { label: 'Reason for overriding the freeze' } : undefined,
        run: (reason) =>
          void act(
            env,
            'Promotion requested',
            async () =>
              (
                await request(
                  PROMOTE,
                  { input: { environmentId: env.id, overrideFreeze: mayOverride && reason ? { reason } : null } },
                  token,
                )
              ).promote,
          ),
      });
    },
    approve: (env, d) =>
      setDialog({
        action: 'Approve',
        title: `Approve ${d.release.version} for ${env.name}?`,
        body: <p>Approves exactly the configuration pinned when the deployment was made (requested by {d.requestedBy}).</p>,
        comment: { label: 'Comment (optional)' },
        run: (comment) =>
          void act(
            env,
            'Approval recorded',
            async () => (await request(APPROVE, { input: { deploymentId: d.id, comment } }, token)).approveDeployment,
          ),
      }),
    reject: (env, d) =>
      setDialog({
        action: 'Reject',
        title: `Reject ${d.release.version} for ${env.name}?`,
        body: <p>One rejection ends the deployment.</p>,
        comment: { label: 'Reason' },
        run: (comment) =>
          void act(
            env,
            'Rejection recorded',
            async () => (await request(REJECT, { input: { deploymentId: d.id, comment } }, token)).rejectDeployment,
          ),
      }),
    cancel: (env, d) =>
      setDialog({
        action: 'Cancel',
        title: `Cancel the deployment of ${d.release.version} to ${env.name}?`,
        body: <p>It is {sentence(d.status).toLowerCase()}; cancelling stops it where it is.</p>,
        run: () => void act(env, 'Cancellation requested', async () => (await request(CANCEL, { id: d.id }, token)).cancelDeployment),
      }),
    rollback: (env, release) =>
      setDialog({
        action: 'Roll back',
        title: `Roll back ${env.name} to ${release.version}?`,
        body: (
          <p>
            Deploys {release.version} (<code>{shortSha(release.commitSha)}</code>) to {env.name} again
            {env.currentRelease ? `, replacing ${env.currentRelease.version}` : ''}.
          </p>
        ),
        run: () =>
          void act(
            env,
            'Rollback requested',
            async () => (await request(ROLLBACK, { input: { environmentId: env.id, releaseId: release.id } }, token)).rollback,
          ),
      }),
  };

  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.projects()}>Projects</Link> <span aria-hidden="true">›</span> <span>{project.name}</span>
      </nav>
      <PageTitle>{project.name}</PageTitle>
      <p className="page-links">
        <Link to={paths.compare(project.slug)}>Compare environments</Link>
        <Link to={paths.insights(project.slug)}>Insights</Link>
        <Link to={paths.settings(project.slug)}>Settings and notifications</Link>
      </p>
      {liveErrors ? <ErrorList errors={liveErrors} title="Live updates stopped" /> : null}
      {pipeline.errors ? <ErrorList errors={pipeline.errors} /> : null}
      <ol className="pipeline" aria-label="Pipeline">
        {project.environments
          .filter((env) => env.previewBranch === null)
          .map((env) => (
            <EnvironmentStage key={env.id} project={project} env={env} actions={actions} busy={!!busy[env.id]} outcome={outcomes[env.id]} />
          ))}
      </ol>
      <Previews
        previews={project.environments.filter((env) => env.previewBranch !== null)}
        render={(env) => (
          <EnvironmentStage key={env.id} project={project} env={env} actions={actions} busy={!!busy[env.id]} outcome={outcomes[env.id]} />
        )}
      />
      {dialog ? <ConfirmDialog request={dialog} onClose={() => setDialog(null)} /> : null}
      <RecordPush projectId={project.id} onPushed={() => pipeline.reloadSoon()} />
      <RecentDeployments project={project} />
    </>
  );
}

/**
 * Preview environments (made by pushes of matching branches), grouped under the pipeline: a list
 * with each one's branch, expiry and a link to its card, then the cards. A plain block, not a
 * region: the page's regions are its environments.
 */
function Previews({ previews, render }: { previews: Env[]; render(env: Env): ReactNode }) {
  const headingId = useId();
  if (previews.length === 0) return null;
  return (
    <div className="previews">
      <h2 id={headingId}>Previews</h2>
      <ul className="preview-list" aria-labelledby={headingId}>
        {previews.map((env) => (
          <li key={env.id}>
            <a href={`#${stageAnchor(env.slug)}`}>{env.name}</a>: branch <code>{env.previewBranch}</code>
            {env.expiresAt ? (
              <>
                , expires <time dateTime={env.expiresAt}>{formatTime(env.expiresAt)}</time>
              </>
            ) : null}
          </li>
        ))}
      </ul>
      <ol className="pipeline" aria-label="Preview environments">
        {previews.map(render)}
      </ol>
    </div>
  );
}

const stageAnchor = (slug: string) => `env-${slug}`;

/** Slug globs of freeze windows: `*` any run, `?` one character (as the server reads them). */
const globMatches = (pattern: string, slug: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  ).test(slug);

/** The freeze window in force (name, reason, until) and the next one that covers the environment. */
function FreezeFacts({ project, env }: { project: Project; env: Env }) {
  const covering = project.freezeWindows.filter(
    (w) =>
      (w.environmentSlugs.length === 0 && w.environmentTypes.length === 0) ||
      w.environmentTypes.includes(env.type) ||
      w.environmentSlugs.some((p) => globMatches(p, env.slug)),
  );
  const now = Date.now();
  const next = covering
    .filter((w) => w.nextOccurrence && Date.parse(w.nextOccurrence.startsAt) > now)
    .sort((a, b) => Date.parse(a.nextOccurrence!.startsAt) - Date.parse(b.nextOccurrence!.startsAt))[0];
  const freeze = env.activeFreeze;
  if (!freeze && !next) return null;
  return (
    <dl className="facts freeze-facts">
      {freeze ? (
        <div>
          <dt>Frozen until</dt>
          <dd>
            <Time iso={freeze.nextOccurrence?.endsAt ?? null} /> · {freeze.name}: {freeze.reason}
          </dd>
        </div>
      ) : null}
      {next ? (
        <div>
          <dt>Next freeze</dt>
          <dd>
            {next.name}, <Time iso={next.nextOccurrence!.startsAt} /> to <Time iso={next.nextOccurrence!.endsAt} />
          </dd>
        </div>
      ) : null}
    </dl>
  );
}

interface EnvActions {
  promote(env: Env): void;
  approve(env: Env, d: Card): void;
  reject(env: Env, d: Card): void;
  cancel(env: Env, d: Card): void;
  rollback(env: Env, release: Card['release']): void;
  /** Read the pipeline again (after a change no deployment event announces). */
  reload(): void;
}

function EnvironmentStage({
  project,
  env,
  actions,
  busy,
  outcome,
}: {
  project: Project;
  env: Env;
  actions: EnvActions;
  busy: boolean;
  outcome: Outcome | undefined;
}) {
  const headingId = useId();
  const deployments = env.deployments.edges.map((e) => e.node);
  const latest = deployments[0] ?? env.activeDeployment;
  const active = env.activeDeployment;
  const running = [active, latest].find((d) => d?.status === 'RUNNING');
  const pending = deployments.find((d) => d.status === 'PENDING_APPROVAL') ?? (active?.status === 'PENDING_APPROVAL' ? active : undefined);
  const cancellable = active ?? deployments.find((d) => !isTerminal(d.status));
  const earlier = env.currentRelease
    ? deployments.find((d) => d.status === 'SUCCEEDED' && d.release.id !== env.currentRelease!.id)
    : undefined;
  const failedErrors = env.policyReport.checks.filter((c) => !c.passed && c.severity === 'error').length;
  const failedWarnings = env.policyReport.checks.filter((c) => !c.passed && c.severity !== 'error').length;
  const approvals = pending ? pending.approvals.filter((a) => a.decision === 'APPROVE').length : 0;

  return (
    <li className="stage">
      <section
        id={stageAnchor(env.slug)}
        tabIndex={-1}
        className={`card env${env.frozen ? ' env-frozen' : ''}`}
        aria-labelledby={headingId}
        aria-busy={busy || undefined}
      >
        <div className="env-head">
          <h2 id={headingId}>{env.name}</h2>
          <span className="env-type" title="Environment type">
            {env.type}
          </span>
        </div>
        <p className="env-trigger muted">
          {TRIGGER_LABEL[env.policy.trigger] ?? sentence(env.policy.trigger)}
          {env.policy.branchPattern ? (
            <>
              {' '}
              of <code>{env.policy.branchPattern}</code>
            </>
          ) : null}
          {env.promotesFrom ? ` · from ${env.promotesFrom.name}` : ''}
        </p>
        {env.previewBranch ? (
          <p className="env-preview muted">
            Preview of <code>{env.previewBranch}</code>
            {env.expiresAt ? (
              <>
                {' '}
                · expires <time dateTime={env.expiresAt}>{formatTime(env.expiresAt)}</time>
              </>
            ) : null}
          </p>
        ) : null}
        <div className="marks">
          {env.frozen ? (
            <span className="mark mark-frozen">
              <span aria-hidden="true">❄ </span>Frozen
            </span>
          ) : null}
          {env.activeFreeze ? (
            <span className="mark mark-frozen">
              <span aria-hidden="true">❄ </span>Freeze: {env.activeFreeze.name}
            </span>
          ) : null}
          <Link
            to={paths.policy(project.slug, env.slug)}
            className={`mark ${env.policyReport.passed ? (failedWarnings ? 'mark-policy-warn' : 'mark-policy-ok') : 'mark-policy-failed'}`}
          >
            {env.policyReport.passed ? (
              <>
                <span aria-hidden="true">✓ </span>Policy passed
                {failedWarnings ? ` (${failedWarnings} warning${failedWarnings === 1 ? '' : 's'})` : ''}
              </>
            ) : (
              <>
                <span aria-hidden="true">⚠ </span>Policy failed: {failedErrors} error{failedErrors === 1 ? '' : 's'}
              </>
            )}
          </Link>
        </div>
        <ReleaseSafety env={env} onChanged={actions.reload} />
        <FreezeFacts project={project} env={env} />
        <dl className="facts">
          <div>
            <dt>Current release</dt>
            <dd>
              {env.currentRelease ? (
                <>
                  <strong className="release-version">{env.currentRelease.version}</strong>{' '}
                  <code title={env.currentRelease.commitSha}>{shortSha(env.currentRelease.commitSha)}</code>
                </>
              ) : (
                <span className="muted">None yet</span>
              )}
            </dd>
          </div>
          <div>
            <dt>Latest deployment</dt>
            <dd>
              {latest ? (
                <>
                  <StatusBadge status={latest.status} />{' '}
                  <span className="muted">
                    {sentence(latest.kind).toLowerCase()} of {latest.release.version}
                  </span>{' '}
                  <Link to={paths.deployment(latest.id)} className="details-link">
                    Details
                    <span className="visually-hidden">
                      {' '}
                      of the {env.name} deployment of {latest.release.version}
                    </span>
                  </Link>
                </>
              ) : (
                <span className="muted">None yet</span>
              )}
            </dd>
          </div>
          {active && latest && active.id !== latest.id ? (
            <div>
              <dt>In progress</dt>
              <dd>
                <StatusBadge status={active.status} /> <span className="muted">{active.release.version}</span>{' '}
                <Link to={paths.deployment(active.id)} className="details-link">
                  Details
                  <span className="visually-hidden">
                    {' '}
                    of the {env.name} deployment of {active.release.version}
                  </span>
                </Link>
              </dd>
            </div>
          ) : null}
        </dl>
        {running ? <ProgressBar progress={running.progress} label={`${env.name} deployment progress`} /> : null}
        {latest?.status === 'FAILED' && latest.error ? <p className="error-text">{latest.error}</p> : null}
        {pending ? (
          <p className="approval-note">
            Waiting for approval: {approvals} of {pending.requiredApprovals}
            {env.policy.approverRoles.length ? ` (${env.policy.approverRoles.join(' or ')})` : ''}, requested by {pending.requestedBy}
          </p>
        ) : null}
        <div className="actions">
          {env.promotesFrom ? (
            <button type="button" className="button-primary" disabled={busy} onClick={() => actions.promote(env)}>
              Promote
            </button>
          ) : null}
          {pending ? (
            <>
              <button type="button" className="button-primary" disabled={busy} onClick={() => actions.approve(env, pending)}>
                Approve
              </button>
              <button type="button" className="button-danger" disabled={busy} onClick={() => actions.reject(env, pending)}>
                Reject
              </button>
            </>
          ) : null}
          {cancellable ? (
            <button type="button" className="button-secondary" disabled={busy} onClick={() => actions.cancel(env, cancellable)}>
              Cancel
            </button>
          ) : null}
          {earlier ? (
            <button type="button" className="button-secondary" disabled={busy} onClick={() => actions.rollback(env, earlier.release)}>
              Roll back
            </button>
          ) : null}
        </div>
        {outcome && 'errors' in outcome ? <ErrorList errors={outcome.errors} title="Refused" /> : null}
        {outcome && 'message' in outcome ? (
          <p role="status" className="ok-text">
            {outcome.message}. <Link to={paths.deployment(outcome.deploymentId)}>Open the deployment</Link>
          </p>
        ) : null}
      </section>
    </li>
  );
}

function RecordPush({ projectId, onPushed }: { projectId: string; onPushed(): void }) {
  const { token } = useSession();
  const [branch, setBranch] = useState('main');
  const [sha, setSha] = useState('');
  const [message, setMessage] = useState('');
  const [result, setResult] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = { branch: useId(), sha: useId(), message: useId() };
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setResult(null);
    try {
      const pushed = (
        await request(
          RECORD_PUSH,
          { input: { projectId, branch: branch.trim(), commitSha: sha.trim(), message: message.trim() || undefined } },
          token,
        )
      ).recordPush;
      const started = pushed.deployments.map((d) => d.environment.name).join(', ');
      setResult({
        message: `Recorded ${pushed.release.version}${started ? `; deploying to ${started}` : '; no environment deploys this branch on push'}`,
        deploymentId: pushed.deployments[0]?.id ?? '',
      });
      setSha('');
      setMessage('');
      onPushed();
    } catch (error) {
      setResult({ errors: errorsOf(error) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <details className="card form-card">
      <summary>Record a push</summary>
      <form onSubmit={submit}>
        <p className="hint">
          What the push webhook or <code>stageplane push</code> would send.
        </p>
        <div className="form-row">
          <p className="field">
            <label htmlFor={ids.branch}>Branch</label>
            <input id={ids.branch} value={branch} onChange={(e) => setBranch(e.target.value)} required />
          </p>
          <p className="field">
            <label htmlFor={ids.sha}>Commit SHA</label>
            <input id={ids.sha} value={sha} onChange={(e) => setSha(e.target.value)} required spellCheck={false} autoComplete="off" />
          </p>
          <p className="field field-wide">
            <label htmlFor={ids.message}>Message</label>
            <input id={ids.message} value={message} onChange={(e) => setMessage(e.target.value)} />
          </p>
        </div>
        {result && 'errors' in result ? <ErrorList errors={result.errors} /> : null}
        {result && 'message' in result ? (
          <p role="status" className="ok-text">
            {result.message}
            {result.deploymentId ? (
              <>
                . <Link to={paths.deployment(result.deploymentId)}>Open the deployment</Link>
              </>
            ) : null}
          </p>
        ) : null}
        <button type="submit" className="button-primary" disabled={busy}>
          Record push
        </button>
      </form>
    </details>
  );
}

function RecentDeployments({ project }: { project: Project }) {
  const rows = project.deployments.edges.map((e) => e.node);
  if (rows.length === 0) return null;
  return (
    // A plain block, not a region: the page's regions are its environments.
    <div className="recent">
      <h2>Recent deployments</h2>
      <ScrollBox label="Recent deployments">
        <table>
          <thead>
            <tr>
              <th scope="col">Release</th>
              <th scope="col">Environment</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">Requested by</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id}>
                <td>
                  <Link to={paths.deployment(d.id)}>
                    {d.release.version}
                    <span className="visually-hidden"> to {d.environment.name}</span>
                  </Link>{' '}
                  <code>{shortSha(d.release.commitSha)}</code>
                </td>
                <td>{d.environment.name}</td>
                <td>{sentence(d.kind)}</td>
                <td>
                  <StatusBadge status={d.status} />
                </td>
                <td>{d.requestedBy}</td>
                <td>
                  <Time iso={d.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollBox>
    </div>
  );
}
