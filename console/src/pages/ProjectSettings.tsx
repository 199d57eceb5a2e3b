// A project's settings: its notification channels (name, kind, host, events, environment globs),
// their recent deliveries, "Send test", and forms to add and delete channels. The channel URL is
// typed here once and never shown again: the server answers its host only.
import { useEffect, useId, useState, type FormEvent } from 'react';
import { errorsOf, request, type ServerError } from '../api.ts';
import { ConfirmDialog, ErrorList, Loading, PageTitle, StatusBadge, Time, type ConfirmRequest } from '../components/ui.tsx';
import { sentence } from '../format.ts';
import {
  CREATE_NOTIFICATION_CHANNEL,
  DELETE_NOTIFICATION_CHANNEL,
  NOTIFICATION_CHANNELS,
  TEST_NOTIFICATION_CHANNEL,
} from '../operations.ts';
import { Link, paths } from '../router.tsx';
import { useLoader, useSession } from '../session.tsx';
import { ScrollBox } from '../components/ScrollBox.tsx';

const EVENTS = [
  'APPROVAL_REQUESTED',
  'DEPLOYMENT_SUCCEEDED',
  'DEPLOYMENT_FAILED',
  'DEPLOYMENT_REJECTED',
  'DEPLOYMENT_EXPIRED',
  'DEPLOYMENT_ROLLED_BACK',
  'FREEZE_OVERRIDDEN',
  'SECRET_ROTATED',
] as const;

export function ProjectSettingsPage({ slug }: { slug: string }) {
  const { token } = useSession();
  const loader = useLoader(() => request(NOTIFICATION_CHANNELS, { slug }, token));
  const [notice, setNotice] = useState('');
  const [refused, setRefused] = useState<ServerError[] | null>(null);
  const [dialog, setDialog] = useState<ConfirmRequest | null>(null);
  const { reload } = loader;
  // Deliveries move on their own (retries): refresh while the page is open.
  useEffect(() => {
    const t = setInterval(() => reload(), 3000);
    return () => clearInterval(t);
  }, [reload]);
  const project = loader.data?.project;
  if (loader.loading && !loader.data) return <Loading what="the project's settings" />;
  if (!project) {
    return (
      <>
        <PageTitle>Project settings</PageTitle>
        {loader.errors ? <ErrorList errors={loader.errors} /> : <p>No project with the slug {slug}.</p>}
      </>
    );
  }
  const act = async (done: string, run: () => Promise<unknown>) => {
    setRefused(null);
    try {
      await run();
      setNotice(done);
      reload();
    } catch (error) {
      setRefused(errorsOf(error));
    }
  };
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.projects()}>Projects</Link> <span aria-hidden="true">›</span> <Link to={paths.project(slug)}>{project.name}</Link>{' '}
        <span aria-hidden="true">›</span> <span>Settings</span>
      </nav>
      <PageTitle>{project.name} settings</PageTitle>
      <p role="status" className="ok-text">
        {notice}
      </p>
      {refused ? <ErrorList errors={refused} title="Refused" /> : null}
      <section aria-labelledby="channels-heading">
        <h2 id="channels-heading">Notification channels</h2>
        {project.notificationChannels.length === 0 ? <p>No channels yet: events of this project notify nobody.</p> : null}
        {project.notificationChannels.map((c) => (
          <article key={c.id} className="card" aria-labelledby={`channel-${c.id}`}>
            <h3 id={`channel-${c.id}`}>{c.name}</h3>
            <dl className="facts">
              <dt>Kind</dt>
              <dd>{c.kind === 'SLACK' ? 'Slack' : 'Signed webhook'}</dd>
              <dt>Host</dt>
              <dd>
                <code>{c.urlHost}</code>
              </dd>
              <dt>Events</dt>
              <dd>{c.events.map(sentence).join(', ')}</dd>
              <dt>Environments</dt>
              <dd>{c.environmentSlugs.length ? c.environmentSlugs.join(', ') : 'every environment'}</dd>
            </dl>
            <p className="actions">
              <button
                type="button"
                className="button-secondary"
                onClick={() => void act(`Test sent to ${c.name}`, () => request(TEST_NOTIFICATION_CHANNEL, { id: c.id }, token))}
              >
                Send test <span className="visually-hidden">to {c.name}</span>
              </button>{' '}
              <button
                type="button"
                className="button-danger"
                onClick={() =>
                  setDialog({
                    action: 'Delete channel',
                    title: `Delete ${c.name}?`,
                    body: <p>Its deliveries still retrying stop, and nothing more is sent to {c.urlHost}.</p>,
                    run: () => void act(`Deleted ${c.name}`, () => request(DELETE_NOTIFICATION_CHANNEL, { id: c.id }, token)),
                  })
                }
              >
                Delete <span className="visually-hidden">{c.name}</span>
              </button>
            </p>
            {c.deliveries.length === 0 ? (
              <p>No deliveries yet.</p>
            ) : (
              <ScrollBox label="Deliveries">
                <table>
                  <caption>Recent deliveries to {c.name}, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Event</th>
                      <th scope="col">Status</th>
                      <th scope="col">Attempts</th>
                      <th scope="col">Last answer</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {c.deliveries.map((d) => (
                      <tr key={d.id}>
                        <td>{sentence(d.event)}</td>
                        <td>
                          <StatusBadge status={d.status} />
                        </td>
                        <td>{d.attempts}</td>
                        <td>
                          {[d.lastStatusCode !== null ? `HTTP ${d.lastStatusCode}` : null, d.lastError].filter(Boolean).join(' — ') || '—'}
                        </td>
                        <td>
                          <Time iso={d.createdAt} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </ScrollBox>
            )}
          </article>
        ))}
      </section>
      <NewChannel projectId={project.id} onCreated={(name) => act(`Added ${name}`, async () => {})} />
      {dialog ? <ConfirmDialog request={dialog} onClose={() => setDialog(null)} /> : null}
    </>
  );
}

function NewChannel({ projectId, onCreated }: { projectId: string; onCreated(name: string): void }) {
  const { token } = useSession();
  const id = useId();
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'WEBHOOK' | 'SLACK'>('WEBHOOK');
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>(['APPROVAL_REQUESTED', 'DEPLOYMENT_FAILED']);
  const [envs, setEnvs] = useState('');
  const [errors, setErrors] = useState<ServerError[] | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setErrors(null);
    try {
      await request(
        CREATE_NOTIFICATION_CHANNEL,
        {
          input: {
            projectId,
            name,
            kind,
            url,
            events: events as (typeof EVENTS)[number][],
            environmentSlugs: envs
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          },
        },
        token,
      );
      setUrl('');
      setName('');
      onCreated(name);
    } catch (error) {
      setErrors(errorsOf(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>Add a channel</h2>
      <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby={`${id}-heading`}>
        {errors ? <ErrorList errors={errors} title="Not added" /> : null}
        <p className="field">
          <label htmlFor={`${id}-name`}>Name</label>
          <input id={`${id}-name`} required value={name} onChange={(e) => setName(e.target.value)} />
        </p>
        <p className="field">
          <label htmlFor={`${id}-kind`}>Kind</label>
          <select id={`${id}-kind`} value={kind} onChange={(e) => setKind(e.target.value as 'WEBHOOK' | 'SLACK')}>
            <option value="WEBHOOK">Signed webhook</option>
            <option value="SLACK">Slack incoming webhook</option>
          </select>
        </p>
        <p className="field">
          <label htmlFor={`${id}-url`}>Receiver URL</label>
          <input
            id={`${id}-url`}
            type="url"
            required
            autoComplete="off"
            spellCheck={false}
            aria-describedby={`${id}-url-help`}
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
          <span id={`${id}-url-help`} className="help">
            A credential: stored encrypted, shown afterwards as its host only.
          </span>
        </p>
        <fieldset className="field">
          <legend>Events</legend>
          {EVENTS.map((e) => (
            <label key={e} className="checkbox">
              <input
                type="checkbox"
                checked={events.includes(e)}
                onChange={(x) => setEvents(x.target.checked ? [...events, e] : events.filter((v) => v !== e))}
              />{' '}
              {sentence(e)}
            </label>
          ))}
        </fieldset>
        <p className="field">
          <label htmlFor={`${id}-envs`}>Environments</label>
          <input id={`${id}-envs`} aria-describedby={`${id}-envs-help`} value={envs} onChange={(e) => setEnvs(e.target.value)} />
          <span id={`${id}-envs-help`} className="help">
            Slugs or globs, comma-separated (e.g. prod*); empty: every environment.
          </span>
        </p>
        <button type="submit" className="button-primary" disabled={busy}>
          Add channel
        </button>
      </form>
    </section>
  );
}
