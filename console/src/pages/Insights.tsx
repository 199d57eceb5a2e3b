// A project's insights (DORA measures) for one environment over the last 7, 30 or 90 days: the
// figures, a chart per UTC day (uPlot) and the same series as a table, which is the accessible
// alternative to the chart. The two lines differ by dash and by open or filled points and are
// named in the legend, never by colour alone.
import { useEffect, useId, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { request } from '../api.ts';
import { ErrorList, Loading, PageTitle } from '../components/ui.tsx';
import { INSIGHTS, PROJECT_ENVIRONMENTS } from '../operations.ts';
import type { ResultOf } from '../graphql.ts';
import { Link, navigate, paths, useLocation } from '../router.tsx';
import { useLoader, useSession } from '../session.tsx';
import { ScrollBox } from '../components/ScrollBox.tsx';

const RANGES = [7, 30, 90] as const;
const DAY_MS = 86_400_000;

type InsightsData = NonNullable<ResultOf<typeof INSIGHTS>['project']>['insights'];
type Spread = { p50: number | null; p90: number | null };

/** Seconds as the two largest units ("1 h 30 min"); "—" where nothing was measured. */
export function duration(seconds: number | null): string {
  if (seconds === null) return '—';
  const s = Math.round(seconds);
  const parts: [number, string][] = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor((s % 86_400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'min'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first < 0) return '0 s';
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => `${n} ${u}`)
    .join(' ');
}

export function InsightsPage({ slug }: { slug: string }) {
  const { token } = useSession();
  const { query } = useLocation();
  const envs = useLoader(() => request(PROJECT_ENVIRONMENTS, { slug }, token));
  const project = envs.data?.project;
  const list = project?.environments ?? [];
  const env = query.get('env') ?? list[list.length - 1]?.slug ?? '';
  const wanted = Number(query.get('days'));
  const days = (RANGES as readonly number[]).includes(wanted) ? wanted : 30;
  const envSelect = useId();
  if (envs.loading && !envs.data) return <Loading what="environments" />;
  if (!project) {
    return (
      <>
        <PageTitle>Insights</PageTitle>
        {envs.errors ? <ErrorList errors={envs.errors} /> : <p>No project with the slug {slug}.</p>}
      </>
    );
  }
  const go = (e: string, d: number) => navigate(paths.insights(slug, e, d), { replace: true });
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.projects()}>Projects</Link> <span aria-hidden="true">›</span> <Link to={paths.project(slug)}>{project.name}</Link>{' '}
        <span aria-hidden="true">›</span> <span>Insights</span>
      </nav>
      <PageTitle>Insights</PageTitle>
      <form className="card insights-form" aria-label="What to show" onSubmit={(e) => e.preventDefault()}>
        <p className="field">
          <label htmlFor={envSelect}>Environment</label>
          <select id={envSelect} value={env} onChange={(e) => go(e.target.value, days)}>
            {list.map((e) => (
              <option key={e.slug} value={e.slug}>
                {e.name}
              </option>
            ))}
          </select>
        </p>
        <fieldset className="range">
          <legend>Range</legend>
          {RANGES.map((d) => (
            <label key={d}>
              <input type="radio" name="days" value={d} checked={d === days} onChange={() => go(env, d)} /> Last {d} days
            </label>
          ))}
        </fieldset>
      </form>
      {env ? <Figures key={`${env}:${days}`} slug={slug} env={env} days={days} /> : null}
    </>
  );
}

function Figures({ slug, env, days }: { slug: string; env: string; days: number }) {
  const { token } = useSession();
  // The range is fixed when the view opens, so reloads ask for the same one.
  const range = useMemo(() => {
    const to = new Date();
    return { from: new Date(to.getTime() - days * DAY_MS).toISOString(), to: to.toISOString() };
  }, [days]);
  const result = useLoader(() => request(INSIGHTS, { slug, env, ...range }, token));
  const insights = result.data?.project?.insights;
  if (result.loading && !result.data) return <Loading what="insights" />;
  if (result.errors) return <ErrorList errors={result.errors} />;
  if (!insights) return null;
  return (
    <>
      <Summary insights={insights} days={days} />
      <section aria-labelledby="per-day" className="card">
        <h2 id="per-day">Deployments per day</h2>
        <Chart insights={insights} />
        <DayTable insights={insights} />
      </section>
    </>
  );
}

function Summary({ insights: i, days }: { insights: InsightsData; days: number }) {
  const spread = (s: Spread) => (s.p50 === null ? 'not measured' : `median ${duration(s.p50)}, 90th percentile ${duration(s.p90)}`);
  const rows: [string, string][] = [
    ['Deployments', `${i.deployments} (${i.successes} succeeded, ${i.failures} failed, ${i.rollbacks} rollbacks)`],
    ['Deployments per day', i.deploymentsPerDay.toFixed(2)],
    ['Change failure rate', i.changeFailureRate === null ? 'not measured' : `${Math.round(i.changeFailureRate * 1000) / 10}%`],
    ['Lead time (push to success)', spread(i.leadTimeSeconds)],
    ['Time to restore (failure to next success)', spread(i.timeToRestoreSeconds)],
    ['Approval wait', spread(i.approvalWaitSeconds)],
  ];
  return (
    <section aria-labelledby="summary" className="card">
      <h2 id="summary">
        {i.environment}, last {days} days
      </h2>
      <dl className="insights-summary">
        {rows.map(([term, value]) => (
          <div key={term}>
            <dt>{term}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function Chart({ insights }: { insights: InsightsData }) {
  const box = useRef<HTMLDivElement>(null);
  const total = insights.series.reduce((n, b) => n + b.deployments, 0);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const x = insights.series.map((b) => Date.parse(`${b.day}T00:00:00Z`) / 1000);
    const plot = new uPlot(
      {
        width: Math.max(200, Math.min(900, el.clientWidth || 700)), // never wider than its box: a phone does not scroll it
        height: 240,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{}, { label: 'Deployments', values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? String(t) : '')) }],
        series: [
          { label: 'Day (UTC)' },
          { label: 'Deployments (solid line, open points)', stroke: '#1d3557', width: 2, points: { show: true, size: 6 } },
          {
            label: 'Failures (dashed line, filled points)',
            stroke: '#b42318',
            width: 2,
            dash: [6, 4],
            points: { show: true, size: 7, fill: '#b42318' },
          },
        ],
      },
      [x, insights.series.map((b) => b.deployments), insights.series.map((b) => b.failures)],
      el,
    );
    return () => plot.destroy();
  }, [insights]);
  const failures = insights.series.reduce((n, b) => n + b.failures, 0);
  return (
    <div
      ref={box}
      className="insights-chart"
      // biome-ignore lint/a11y/noNoninteractiveTabindex: on a narrow screen the chart scrolls in its box, which must take focus to scroll by keyboard (WCAG 2.1.1).
      tabIndex={0}
      role="img"
      aria-label={`Chart of deployments and failures per UTC day: ${total} deployments, ${failures} failures over ${insights.series.length} days. The table below has the same figures.`}
    />
  );
}

function DayTable({ insights }: { insights: InsightsData }) {
  return (
    <ScrollBox label="Per day">
      <table>
        <caption>Finished deployments and failures per UTC day</caption>
        <thead>
          <tr>
            <th scope="col">Day (UTC)</th>
            <th scope="col">Deployments</th>
            <th scope="col">Failures</th>
          </tr>
        </thead>
        <tbody>
          {insights.series.map((b) => (
            <tr key={b.day}>
              <th scope="row">{b.day}</th>
              <td>{b.deployments}</td>
              <td>{b.failures}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollBox>
  );
}
