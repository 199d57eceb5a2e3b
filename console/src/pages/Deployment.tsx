// One deployment: status, approvals, snapshot digest and the event timeline, live through
// `deploymentEvents(afterSeq)`. After a lost connection the subscription is sent again with the
// last seq seen, so the timeline resumes where it was: each seq shows once.
import { useCallback, useEffect, useRef, useState } from 'react';
import { errorsOf, request, type ServerError } from '../api.ts';
import { ConfirmDialog, ErrorList, Loading, PageTitle, ProgressBar, StatusBadge, Time, type ConfirmRequest } from '../components/ui.tsx';
import { isTerminal, percent, sentence, shortSha } from '../format.ts';
import type { ResultOf } from '../graphql.ts';
import { patchDeployment } from '../live-patch.ts';
import { APPROVE, CANCEL, DEPLOYMENT, DEPLOYMENT_EVENTS, REJECT } from '../operations.ts';
import { Link, paths } from '../router.tsx';
import { useLoader, useSession, type Loaded } from '../session.tsx';
import { ScrollBox } from '../components/ScrollBox.tsx';

type DeploymentData = ResultOf<typeof DEPLOYMENT>;
type Deployment = NonNullable<DeploymentData['deployment']>;
type TimelineEvent = Deployment['events'][number];

/** The timeline: events by seq (each once), and the last seq with no gap before it. */
function useTimeline() {
  const events = useRef(new Map<number, TimelineEvent>());
  const lastSeq = useRef(0);
  const [version, setVersion] = useState(0);
  const merge = useCallback((incoming: readonly TimelineEvent[]) => {
    let added = false;
    for (const event of incoming) {
      if (events.current.has(event.seq)) continue;
      events.current.set(event.seq, event);
      added = true;
    }
    while (events.current.has(lastSeq.current + 1)) lastSeq.current++;
    if (added) setVersion((v) => v + 1);
  }, []);
  const list = [...events.current.values()].sort((a, b) => a.seq - b.seq);
  return { list, lastSeq, merge, version };
}

export function DeploymentPage({ id }: { id: string }) {
  const session = useSession();
  const timeline = useTimeline();
  const { merge, lastSeq } = timeline;
  const loader = useLoader(async () => {
    // The header, and only the events after those already on the page.
    const data = await request(DEPLOYMENT, { id, afterSeq: lastSeq.current }, session.token);
    if (data.deployment) merge(data.deployment.events);
    return data;
  });
  const latest = useRef<Loaded<DeploymentData>>(loader);
  latest.current = loader;
  const [liveErrors, setLiveErrors] = useState<ServerError[] | null>(null);
  const [live, setLive] = useState<'following' | 'ended' | 'stopped'>('following');
  const [dialog, setDialog] = useState<ConfirmRequest | null>(null);
  const [outcome, setOutcome] = useState<{ errors: ServerError[] } | { message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const found = !!loader.data?.deployment;

  useEffect(() => {
    if (!found) return;
    const stop = session.live.subscribe(DEPLOYMENT_EVENTS, () => ({ id, afterSeq: lastSeq.current }), {
      next: ({ deploymentEvents: event }) => {
        setLiveErrors(null);
        if (event.seq <= lastSeq.current) return; // already shown
        merge([event]);
        latest.current.update((data) => (data.deployment ? { ...data, deployment: patchDeployment(data.deployment, event) } : data));
        if (event.type !== 'STEP_PROGRESS') latest.current.reloadSoon();
      },
      error: (errors) => {
        setLiveErrors(errors);
        setLive('stopped');
      },
      complete: () => {
        setLive('ended');
        latest.current.reloadSoon();
      },
    });
    const off = session.live.onReconnected(() => latest.current.reloadSoon());
    return () => {
      stop();
      off();
    };
  }, [found, id, lastSeq, merge, session.live]);

  const d = loader.data?.deployment;
  if (loader.loading && !loader.data) return <Loading what="the deployment" />;
  if (!d) {
    return (
      <>
        <PageTitle>Deployment</PageTitle>
        {loader.errors ? <ErrorList errors={loader.errors} /> : <p>No deployment with the id {id}.</p>}
        <p>
          <Link to={paths.projects()}>All projects</Link>
        </p>
      </>
    );
  }

  const token = session.token;
  const act = async (label: string, run: () => Promise<unknown>) => {
    setBusy(true);
    setOutcome(null);
    try {
      await run();
      setOutcome({ message: `${label}.` });
      loader.reloadSoon();
    } catch (error) {
      setOutcome({ errors: errorsOf(error) });
    } finally {
      setBusy(false);
    }
  };
  const approvals = d.approvals.filter((a) => a.decision === 'APPROVE').length;

  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.projects()}>Projects</Link> <span aria-hidden="true">›</span>{' '}
        <Link to={paths.project(d.project.slug)}>{d.project.name}</Link> <span aria-hidden="true">›</span> <span>Deployment</span>
      </nav>
      <PageTitle>
        {d.release.version} to {d.environment.name}
      </PageTitle>
      <div className="deployment-status card">
        <p className="status-line">
          <span className="label">Status</span> <StatusBadge status={d.status} />
          {d.status === 'PENDING_APPROVAL' ? (
            <span className="muted">
              {' '}
              {approvals} of {d.requiredApprovals} approval{d.requiredApprovals === 1 ? '' : 's'}
              {d.environment.policy.approverRoles.length ? ` (${d.environment.policy.approverRoles.join(' or ')})` : ''}
            </span>
          ) : null}
        </p>
        {d.status === 'RUNNING' ? <ProgressBar progress={d.progress} label="Deployment progress" /> : null}
        {d.error ? <p className="error-text">{d.error}</p> : null}
        <p className="muted live-note">
          {live === 'following' && !isTerminal(d.status) ? 'Following live.' : null}
          {live === 'ended' || isTerminal(d.status) ? 'The deployment has ended.' : null}
          {live === 'stopped' ? 'Live updates stopped.' : null}
        </p>
        <div className="actions">
          {d.status === 'PENDING_APPROVAL' ? (
            <>
              <button
                type="button"
                className="button-primary"
                disabled={busy}
                onClick={() =>
                  setDialog({
                    action: 'Approve',
                    title: `Approve ${d.release.version} for ${d.environment.name}?`,
                    body: <p>Approves exactly the configuration pinned as snapshot {d.snapshot.digest.slice(0, 12)}.</p>,
                    comment: { label: 'Comment (optional)' },
                    run: (comment) =>
                      void act(
                        'Approval recorded',
                        async () => (await request(APPROVE, { input: { deploymentId: d.id, comment } }, token)).approveDeployment,
                      ),
                  })
                }
              >
                Approve
              </button>
              <button
                type="button"
                className="button-danger"
                disabled={busy}
                onClick={() =>
                  setDialog({
                    action: 'Reject',
                    title: `Reject ${d.release.version} for ${d.environment.name}?`,
                    body: <p>One rejection ends the deployment.</p>,
                    comment: { label: 'Reason' },
                    run: (comment) =>
                      void act(
                        'Rejection recorded',
                        async () => (await request(REJECT, { input: { deploymentId: d.id, comment } }, token)).rejectDeployment,
                      ),
                  })
                }
              >
                Reject
              </button>
            </>
          ) : null}
          {!isTerminal(d.status) ? (
            <button
              type="button"
              className="button-secondary"
              disabled={busy}
              onClick={() =>
                setDialog({
                  action: 'Cancel',
                  title: `Cancel the deployment of ${d.release.version} to ${d.environment.name}?`,
                  body: <p>It is {sentence(d.status).toLowerCase()}; cancelling stops it where it is.</p>,
                  run: () => void act('Cancellation requested', async () => (await request(CANCEL, { id: d.id }, token)).cancelDeployment),
                })
              }
            >
              Cancel
            </button>
          ) : null}
        </div>
        {outcome && 'errors' in outcome ? <ErrorList errors={outcome.errors} title="Refused" /> : null}
        {outcome && 'message' in outcome ? (
          <p role="status" className="ok-text">
            {outcome.message}
          </p>
        ) : null}
      </div>
      {liveErrors ? <ErrorList errors={liveErrors} title="Live updates stopped" /> : null}
      {loader.errors ? <ErrorList errors={loader.errors} /> : null}

      <div className="columns">
        <section aria-labelledby="details-heading" className="card">
          <h2 id="details-heading">Details</h2>
          <dl className="facts">
            <div>
              <dt>Release</dt>
              <dd>
                <strong>{d.release.version}</strong> <code title={d.release.commitSha}>{shortSha(d.release.commitSha)}</code> on{' '}
                <code>{d.release.branch}</code>
                {d.release.message ? <span className="muted"> · {d.release.message}</span> : null}
                {d.release.author ? <span className="muted"> · {d.release.author}</span> : null}
              </dd>
            </div>
            <div>
              <dt>Kind</dt>
              <dd>
                {sentence(d.kind)}
                {d.sourceEnvironment ? ` from ${d.sourceEnvironment.name}` : ''}
              </dd>
            </div>
            <div>
              <dt>Environment</dt>
              <dd>
                <Link to={paths.project(d.project.slug)}>{d.environment.name}</Link> <span className="muted">({d.environment.type})</span>
              </dd>
            </div>
            <div>
              <dt>Requested by</dt>
              <dd>{d.requestedBy}</dd>
            </div>
            <div>
              <dt>Created</dt>
              <dd>
                <Time iso={d.createdAt} />
              </dd>
            </div>
            {d.startedAt ? (
              <div>
                <dt>Started</dt>
                <dd>
                  <Time iso={d.startedAt} />
                </dd>
              </div>
            ) : null}
            {d.finishedAt ? (
              <div>
                <dt>Finished</dt>
                <dd>
                  <Time iso={d.finishedAt} />
                </dd>
              </div>
            ) : null}
            <div>
              <dt>Snapshot digest</dt>
              <dd>
                <code className="digest">{d.snapshot.digest}</code>
                <span className="muted">
                  {' '}
                  settings v{d.snapshot.settingsVersion}, taken <Time iso={d.snapshot.takenAt} />
                </span>
              </dd>
            </div>
            <div>
              <dt>Workflow</dt>
              <dd>
                <code>{d.workflowId}</code>
              </dd>
            </div>
          </dl>
        </section>

        <section aria-labelledby="approvals-heading" className="card">
          <h2 id="approvals-heading">Approvals</h2>
          <p className="muted">
            {d.requiredApprovals === 0
              ? 'No approval required.'
              : `${approvals} of ${d.requiredApprovals} required${d.environment.policy.preventSelfApproval ? '; the requester may not approve' : ''}.`}
          </p>
          {d.approvals.length > 0 ? (
            <ScrollBox label="Approvals">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Who</th>
                    <th scope="col">Decision</th>
                    <th scope="col">When</th>
                    <th scope="col">Comment</th>
                  </tr>
                </thead>
                <tbody>
                  {d.approvals.map((a) => (
                    <tr key={`${a.approver}-${a.createdAt}`}>
                      <td>{a.approver}</td>
                      <td>{a.decision === 'APPROVE' ? 'Approved' : 'Rejected'}</td>
                      <td>
                        <Time iso={a.createdAt} />
                      </td>
                      <td>{a.comment ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ScrollBox>
          ) : d.requiredApprovals > 0 ? (
            <p>No approvals yet.</p>
          ) : null}
          {d.steps.length > 0 ? (
            <>
              <h2>Steps</h2>
              <ol className="steps">
                {d.steps.map((s) => (
                  <li key={s.name}>
                    <span className="step-name">{s.name}</span> <StatusBadge status={s.status} />{' '}
                    <span className="muted">{percent(s.progress)}%</span>
                  </li>
                ))}
              </ol>
            </>
          ) : null}
        </section>
      </div>

      <VerificationSection d={d} />

      <section aria-labelledby="timeline-heading" className="card">
        <h2 id="timeline-heading">Event timeline</h2>
        <ScrollBox label="Timeline">
          <table className="timeline">
            <thead>
              <tr>
                <th scope="col">Seq</th>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Step</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {timeline.list.map((e) => (
                <tr key={e.seq} data-seq={e.seq}>
                  <td>{e.seq}</td>
                  <td>
                    <Time iso={e.at} />
                  </td>
                  <td>{sentence(e.type)}</td>
                  <td>
                    <StatusBadge status={e.status} />
                  </td>
                  <td>
                    {e.step ?? ''}
                    {e.progress != null && e.step ? ` ${percent(e.progress)}%` : ''}
                  </td>
                  <td>{e.message ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      </section>
      {dialog ? <ConfirmDialog request={dialog} onClose={() => setDialog(null)} /> : null}
    </>
  );
}

/** v2: the verification this deployment pinned (probes, thresholds, outcome) and its rollback links. */
function VerificationSection({ d }: { d: Deployment }) {
  const v = d.verification;
  const c = v.config;
  return (
    <section aria-labelledby="verification-heading" className="card">
      <h2 id="verification-heading">Verification</h2>
      <p className="status-line">
        <span className="label">Verification</span> <StatusBadge status={v.status} />
        {v.status === 'SKIPPED' && !c ? <span className="muted"> No verification configured.</span> : null}
      </p>
      {c ? (
        <dl className="facts">
          <div>
            <dt>Probes</dt>
            <dd>
              {v.probes} GET <code>{c.url}</code>
            </dd>
          </div>
          <div>
            <dt>Thresholds</dt>
            <dd>
              passes after {c.successThreshold} consecutive HTTP {c.expectStatus}, fails after {c.failureThreshold} consecutive failures or{' '}
              {c.timeoutSeconds} s; every {c.intervalSeconds} s
            </dd>
          </div>
          <div>
            <dt>Last status</dt>
            <dd>{v.lastStatusCode ?? 'none'}</dd>
          </div>
          {v.lastError ? (
            <div>
              <dt>Last error</dt>
              <dd className="error-text">{v.lastError}</dd>
            </div>
          ) : null}
          {v.finishedAt ? (
            <div>
              <dt>Finished</dt>
              <dd>
                <Time iso={v.finishedAt} />
              </dd>
            </div>
          ) : null}
        </dl>
      ) : null}
      {d.rolledBackBy ? (
        <p>
          Rolled back automatically by{' '}
          <Link to={paths.deployment(d.rolledBackBy.id)}>the rollback to {d.rolledBackBy.release.version}</Link> (
          {sentence(d.rolledBackBy.status).toLowerCase()}).
        </p>
      ) : null}
      {d.rollbackOf ? (
        <p>
          Automatic rollback of <Link to={paths.deployment(d.rollbackOf.id)}>the failed deployment of {d.rollbackOf.release.version}</Link>.
        </p>
      ) : null}
    </section>
  );
}
