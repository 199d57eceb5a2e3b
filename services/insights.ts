// Project.insights: DORA and pipeline measures of one environment over [from, to), computed by
// PostgreSQL from the event log in one statement (one row comes back, never the deployments).
//
// When something happened is the `at` of its event: a deployment finished at its SUCCEEDED or
// FAILED event, an approval was decided at the APPROVED event that ended PENDING_APPROVAL (or at
// REJECTED), it was requested at its first event with status PENDING_APPROVAL. What counts in
// the range, and the choices where the contract is silent:
// - deployments, successes, failures, rollbacks and the series: deployments whose SUCCEEDED or
//   FAILED event is in the range (a FAILED after a failed verification included; a ROLLBACK
//   deployment is counted in the totals as well as in `rollbacks`).
// - lead time: from the release's creation (the push) to each SUCCEEDED in the range, except
//   ROLLBACK deployments (they ship an old release again, not a change).
// - time to restore: from each FAILED in the range to the next SUCCEEDED of the environment in
//   the range; a failure not restored by `to` has no time to restore in that range, so a past
//   range's answer never changes.
// - approval wait: deployments decided (approved for good, or rejected) in the range, from the
//   first PENDING_APPROVAL event to the last decision in the range; expired and cancelled
//   requests were not decided.
// - percentiles: PostgreSQL's percentile_cont (linear interpolation between the two nearest
//   values: p50 of 1, 2, 3, 4 is 2.5); null when nothing was measured.
// The range is read once: a range of deployment_events_insights_idx (the project's outcome and
// decision events in time order) joined to their deployments (test/integration/insights-plans.test.ts).
import { and, eq, sql } from 'drizzle-orm';
import { environments } from '../db/schema/index.ts';
import { sqlLiterals } from '../db/schema/common.ts';
import { notFound } from '../domain/errors.ts';
import { changeFailureRate, perDay } from '../domain/insights.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import type { InsightsArgs } from '../domain/validation.ts';
import { INSIGHT_DECISION_EVENTS, INSIGHT_EVENTS, INSIGHT_OUTCOME_EVENTS } from '../domain/values.ts';
import { actorInProject } from './project-access.ts';
import type { Scope } from './scope.ts';

export interface Percentiles {
  p50: number | null;
  p90: number | null;
}

export interface InsightBucket {
  /** YYYY-MM-DD, UTC */
  day: string;
  deployments: number;
  failures: number;
}

export interface Insights {
  environment: string;
  from: Date;
  to: Date;
  deployments: number;
  successes: number;
  failures: number;
  rollbacks: number;
  deploymentsPerDay: number;
  leadTimeSeconds: Percentiles;
  changeFailureRate: number | null;
  timeToRestoreSeconds: Percentiles;
  approvalWaitSeconds: Percentiles;
  series: InsightBucket[];
}

interface InsightsRow {
  deployments: number;
  successes: number;
  failures: number;
  rollbacks: number;
  lead_p50: number | null;
  lead_p90: number | null;
  restore_p50: number | null;
  restore_p90: number | null;
  wait_p50: number | null;
  wait_p90: number | null;
  series: InsightBucket[] | string;
}

/** The insights of `environment` (a slug of the project, archived ones included) over [from, to). */
export async function projectInsights(scope: Scope, project: { id: string; slug: string }, args: InsightsArgs): Promise<Insights> {
  // With the roles in this project: a member granted there, or a project token, reads it too.
  assertAuthorized('read', await actorInProject(scope, project.id));
  const [environment] = await scope.db
    .select({ id: environments.id, slug: environments.slug })
    .from(environments)
    .where(and(eq(environments.projectId, project.id), eq(environments.slug, args.environment)));
  if (!environment) throw notFound(`No environment ${JSON.stringify(args.environment)} in project ${project.slug}`);

  const result = await scope.db.execute(insightsQuery(project.id, environment.id, args.from, args.to));
  const row = (Array.isArray(result) ? result[0] : (result as { rows: unknown[] }).rows[0]) as InsightsRow;
  const percentiles = (p50: number | null, p90: number | null): Percentiles => ({ p50, p90 });
  return {
    environment: environment.slug,
    from: args.from,
    to: args.to,
    deployments: row.deployments,
    successes: row.successes,
    failures: row.failures,
    rollbacks: row.rollbacks,
    deploymentsPerDay: perDay(row.successes, args.from, args.to),
    leadTimeSeconds: percentiles(row.lead_p50, row.lead_p90),
    changeFailureRate: changeFailureRate(row.failures, row.deployments),
    timeToRestoreSeconds: percentiles(row.restore_p50, row.restore_p90),
    approvalWaitSeconds: percentiles(row.wait_p50, row.wait_p90),
    series: typeof row.series === 'string' ? JSON.parse(row.series) : row.series,
  };
}

/**
 * The one statement. Timestamps are passed as ISO strings and days are cut in UTC whatever the
 * session's time zone; counts come back as int and seconds as float8, which both drivers parse
 * to numbers. The type filters are SQL literals, word for word the partial indexes' predicates.
 */
export function insightsQuery(projectId: string, environmentId: string, from: Date, to: Date) {
  const lo = sql`${from.toISOString()}::timestamptz`;
  const hi = sql`${to.toISOString()}::timestamptz`;
  const seconds = (a: ReturnType<typeof sql>, b: ReturnType<typeof sql>) => sql`extract(epoch from (${a}) - (${b}))::float8`;
  return sql`
    with ev as (
      select e.created_at as at, e.type::text as type, e.status::text as status, e.deployment_id, d.kind::text as kind, d.release_id
      from deployment_events e
      join deployments d on d.id = e.deployment_id
      where e.project_id = ${projectId} and e.type in (${sqlLiterals(INSIGHT_EVENTS)})
        and e.created_at >= ${lo} and e.created_at < ${hi}
        and d.environment_id = ${environmentId}
    ),
    outcome as (
      select ev.at, ev.type, ev.deployment_id as id, ev.kind,
        case when ev.type = 'SUCCEEDED' and ev.kind <> 'ROLLBACK' then ${seconds(sql`ev.at`, sql`r.created_at`)} end as lead_seconds
      from ev join releases r on r.id = ev.release_id
      where ev.type in (${sqlLiterals(INSIGHT_OUTCOME_EVENTS)})
    ),
    -- The next SUCCEEDED after each FAILED: walked newest first, so the frame only grows and the
    -- running min is computed in one pass (a frame "current row .. unbounded following" is
    -- recomputed for every row: quadratic).
    timed as (
      select o.*,
        case when o.type = 'FAILED' then
          min(o.at) filter (where o.type = 'SUCCEEDED') over (order by o.at desc, o.id desc rows between unbounded preceding and current row)
        end as restored_at
      from outcome o
    ),
    decided as (
      select deployment_id, max(at) as decided_at from ev
      where type in (${sqlLiterals(INSIGHT_DECISION_EVENTS)}) and status <> 'PENDING_APPROVAL'
      group by deployment_id
    ),
    -- Requested: the deployment's first event with status PENDING_APPROVAL (its own events in
    -- seq order, on deployment_events_seq_unique).
    waits as (
      select ${seconds(sql`dd.decided_at`, sql`requested.at`)} as seconds
      from decided dd
      cross join lateral (
        select x.created_at as at from deployment_events x
        where x.deployment_id = dd.deployment_id and x.status = 'PENDING_APPROVAL' order by x.seq limit 1
      ) requested
    ),
    days as (
      select day from generate_series(
        date_trunc('day', ${lo} at time zone 'UTC'),
        date_trunc('day', (${hi} - interval '1 microsecond') at time zone 'UTC'),
        interval '1 day') day
    ),
    per_day as (
      select date_trunc('day', at at time zone 'UTC') as day, count(*)::int as deployments,
        (count(*) filter (where type = 'FAILED'))::int as failures
      from outcome group by 1
    )
    select
      count(*)::int as deployments,
      (count(*) filter (where type = 'SUCCEEDED'))::int as successes,
      (count(*) filter (where type = 'FAILED'))::int as failures,
      (count(*) filter (where kind = 'ROLLBACK'))::int as rollbacks,
      percentile_cont(0.5) within group (order by lead_seconds) as lead_p50,
      percentile_cont(0.9) within group (order by lead_seconds) as lead_p90,
      percentile_cont(0.5) within group (order by ${seconds(sql`restored_at`, sql`at`)}) as restore_p50,
      percentile_cont(0.9) within group (order by ${seconds(sql`restored_at`, sql`at`)}) as restore_p90,
      (select percentile_cont(0.5) within group (order by seconds) from waits) as wait_p50,
      (select percentile_cont(0.9) within group (order by seconds) from waits) as wait_p90,
      (select coalesce(json_agg(json_build_object(
          'day', to_char(days.day, 'YYYY-MM-DD'),
          'deployments', coalesce(p.deployments, 0),
          'failures', coalesce(p.failures, 0)) order by days.day), '[]'::json)
        from days left join per_day p on p.day = days.day) as series
    from timed`;
}
