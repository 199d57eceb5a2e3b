// Project.insights: DORA and pipeline measures of one environment over [from, to), computed by
// PostgreSQL in one statement (one row comes back, never the deployments).
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
// - approval wait: deployments with a decision (an APPROVED that ended PENDING_APPROVAL, or a
//   REJECTED) in the range, from the first PENDING_APPROVAL event to the last decision in the
//   range; expired and cancelled requests were not decided. An approval voided after the quorum
//   (APPROVALS_INVALIDATED from QUEUED) was a decision all the same: a deployment decided more
//   than once counts, once, in any range that holds one of its decisions.
// - percentiles: PostgreSQL's percentile_cont (linear interpolation between the two nearest
//   values: p50 of 1, 2, 3, 4 is 2.5); null when nothing was measured.
// Those instants are kept on the deployment's row as the events are appended (db/event-log.ts;
// db/deployment-instants.ts derives them from the log), so a range is read once, index-only:
// deployments_environment_outcome_idx for the outcomes, deployments_environment_decided_idx for
// the decisions, and deployments_environment_redecided_idx for the rare deployments decided more
// than once (test/integration/insights-plans.test.ts).
import { and, eq, type SQL, sql } from 'drizzle-orm';
import { firstRow } from '../db/client.ts';
import { environments } from '../db/schema/index.ts';
import { sqlLiterals } from '../db/schema/common.ts';
import { notFound } from '../domain/errors.ts';
import { changeFailureRate, perDay } from '../domain/insights.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import type { InsightsArgs } from '../domain/validation.ts';
import { INSIGHT_DECISION_EVENTS } from '../domain/values.ts';
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
  /** [p50, p90], or null when nothing was measured */
  lead: number[] | null;
  restore: number[] | null;
  wait: number[] | null;
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

  const result = await scope.db.execute(insightsQuery(environment.id, args.from, args.to));
  const row = firstRow<InsightsRow>(result)!;
  const percentiles = (p: number[] | null): Percentiles => ({ p50: p?.[0] ?? null, p90: p?.[1] ?? null });
  return {
    environment: environment.slug,
    from: args.from,
    to: args.to,
    deployments: row.deployments,
    successes: row.successes,
    failures: row.failures,
    rollbacks: row.rollbacks,
    deploymentsPerDay: perDay(row.successes, args.from, args.to),
    leadTimeSeconds: percentiles(row.lead),
    changeFailureRate: changeFailureRate(row.failures, row.deployments),
    timeToRestoreSeconds: percentiles(row.restore),
    approvalWaitSeconds: percentiles(row.wait),
    series: typeof row.series === 'string' ? JSON.parse(row.series) : row.series,
  };
}

/**
 * The one statement. Timestamps are passed as ISO strings and days are cut in UTC whatever the
 * session's time zone; counts come back as int, seconds as float8 and each pair of percentiles as
 * float8[] (one sort for both), which both drivers parse to numbers. The conditions on the
 * instants imply the partial indexes' predicates or state them word for word.
 *
 * The outcomes are read where they are needed rather than copied once into a CTE (copying the
 * rows costs more than reading the index again), and statuses and kinds are compared as enums
 * (the text of an enum is a catalog lookup per row).
 */
export function insightsQuery(environmentId: string, from: Date, to: Date) {
  const lo = sql`${from.toISOString()}::timestamptz`;
  const hi = sql`${to.toISOString()}::timestamptz`;
  // extract(epoch ...)::float8, the same float8 at a third of the cost: extract() computes in
  // numeric; date_part's float8 is within a fraction of a microsecond of it, and the instants are
  // whole microseconds (milliseconds, in fact), so rounding it to them gives that value exactly.
  const seconds = (a: SQL, b: SQL) => sql`(round(date_part('epoch', (${a}) - (${b})) * 1e6) / 1e6)`;
  return sql`
    with waits as (
      -- Each deployment decided in the range, at its last decision there: its latest decision
      -- when that is in the range; else, for one decided more than once whose latest decision is
      -- after the range (approvals voided after the quorum), the last of its decisions in the
      -- range, read from its own events (on deployment_events_seq_unique).
      select ${seconds(sql`d.approval_decided_at`, sql`d.approval_requested_at`)} as seconds
      from deployments d
      where d.environment_id = ${environmentId} and d.approval_decided_at >= ${lo} and d.approval_decided_at < ${hi}
      union all
      select ${seconds(sql`earlier.at`, sql`d.approval_requested_at`)}
      from deployments d
      cross join lateral (
        select max(x.created_at) as at from deployment_events x
        where x.deployment_id = d.id and x.type in (${sqlLiterals(INSIGHT_DECISION_EVENTS)}) and x.status <> 'PENDING_APPROVAL'
          and x.created_at >= ${lo} and x.created_at < ${hi}
      ) earlier
      where d.environment_id = ${environmentId} and d.approval_first_decided_at < d.approval_decided_at
        and d.approval_decided_at >= ${hi} and d.approval_first_decided_at < ${hi} and earlier.at is not null
    )
    select
      count(*)::int as deployments,
      (count(*) filter (where o.status = 'SUCCEEDED'))::int as successes,
      (count(*) filter (where o.status = 'FAILED'))::int as failures,
      (count(*) filter (where o.kind = 'ROLLBACK'))::int as rollbacks,
      percentile_cont(array[0.5, 0.9]) within group (order by
        case when o.status = 'SUCCEEDED' and o.kind <> 'ROLLBACK' then ${seconds(sql`o.at`, sql`o.release_created_at`)} end) as lead,
      percentile_cont(array[0.5, 0.9]) within group (order by ${seconds(sql`o.restored_at`, sql`o.at`)}) as restore,
      (select percentile_cont(array[0.5, 0.9]) within group (order by seconds) from waits) as wait,
      -- Each UTC day the range touches, counted on its own range of the index (cheaper than
      -- grouping the range's rows by their day).
      (select coalesce(json_agg(json_build_object('day', to_char(days.day, 'YYYY-MM-DD'), 'deployments', c.deployments, 'failures', c.failures)
          order by days.day), '[]'::json)
        from generate_series(
          date_trunc('day', ${lo} at time zone 'UTC'),
          date_trunc('day', (${hi} - interval '1 microsecond') at time zone 'UTC'),
          interval '1 day') days(day)
        cross join lateral (
          select count(*)::int as deployments, (count(*) filter (where d.status = 'FAILED'))::int as failures
          from deployments d
          where d.environment_id = ${environmentId}
            and d.outcome_at >= greatest(${lo}, days.day at time zone 'UTC') and d.outcome_at < least(${hi}, (days.day + interval '1 day') at time zone 'UTC')
        ) c) as series
    from (
      select d.outcome_at as at, d.status, d.kind, d.release_created_at,
        -- The next SUCCEEDED after each FAILED: walked newest first (the index read backward), so
        -- the frame only grows and the running min is computed in one pass (a frame "current row
        -- .. unbounded following" is recomputed for every row: quadratic).
        case when d.status = 'FAILED' then
          min(d.outcome_at) filter (where d.status = 'SUCCEEDED')
            over (order by d.outcome_at desc, d.id desc rows between unbounded preceding and current row)
        end as restored_at
      from deployments d
      where d.environment_id = ${environmentId} and d.outcome_at >= ${lo} and d.outcome_at < ${hi}
    ) o`;
}
