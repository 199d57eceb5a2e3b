// The statement Project.insights ran before the instants were kept on the deployments' rows
// (services/insights.ts until the migration insights_deployment_instants), word for word: it reads
// the event log itself, so it is the reference the statement on the rows must agree with
// (test/integration/deployment-instants.test.ts). Slow on a long history; only tests run it.
import { sql } from 'drizzle-orm';

/** Its one row: counts, then p50 and p90 of each measure, then the series (json). */
export function eventLogInsightsQuery(projectId: string, environmentId: string, from: Date, to: Date) {
  const lo = sql`${from.toISOString()}::timestamptz`;
  const hi = sql`${to.toISOString()}::timestamptz`;
  const seconds = (a: ReturnType<typeof sql>, b: ReturnType<typeof sql>) => sql`extract(epoch from (${a}) - (${b}))::float8`;
  return sql`
    with ev as (
      select e.created_at as at, e.type::text as type, e.status::text as status, e.deployment_id, d.kind::text as kind, d.release_id
      from deployment_events e
      join deployments d on d.id = e.deployment_id
      where e.project_id = ${projectId} and e.type in ('SUCCEEDED', 'FAILED', 'APPROVED', 'REJECTED')
        and e.created_at >= ${lo} and e.created_at < ${hi}
        and d.environment_id = ${environmentId}
    ),
    outcome as (
      select ev.at, ev.type, ev.deployment_id as id, ev.kind,
        case when ev.type = 'SUCCEEDED' and ev.kind <> 'ROLLBACK' then ${seconds(sql`ev.at`, sql`r.created_at`)} end as lead_seconds
      from ev join releases r on r.id = ev.release_id
      where ev.type in ('SUCCEEDED', 'FAILED')
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
      where type in ('APPROVED', 'REJECTED') and status <> 'PENDING_APPROVAL'
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
