// A long, generated deployment history with the events insights read (outcomes, approvals), for
// the insights plan test (test/integration/insights-plans.test.ts) and bench/insights.ts.
import type { DatabaseHandle } from '../../db/client.ts';
import { DEPLOYMENT_INSTANTS_BACKFILL } from '../../db/deployment-instants.ts';
import { rows } from './history.ts';

export interface InsightsHistoryOptions {
  projectId: string;
  /** development, staging, production ids: deployments go round them. */
  environmentIds: [string, string, string];
  deployments: number;
  /** The deployments are spread evenly over this many days, ending at `end`. */
  days: number;
  end: Date;
  /** STEP_PROGRESS events per deployment besides CREATED, STARTED and its outcome (default 4). */
  progressEvents?: number;
}

/**
 * `deployments` finished deployments, oldest first, one release per 10 (created an hour before its
 * first deployment); every 10th FAILED, every 50th a ROLLBACK; production's wait for an approval
 * (APPROVAL_REQUESTED, then APPROVED 0..60 minutes later; every 300th has its approvals voided
 * right after and is approved again 30 seconds later). Each has CREATED, STARTED,
 * `progressEvents` STEP_PROGRESS and SUCCEEDED or FAILED five minutes after starting. The
 * deployments' instants are derived from these events as the migration derived them. VACUUMed.
 */
export async function seedInsightsHistory(database: DatabaseHandle, o: InsightsHistoryOptions): Promise<void> {
  const n = o.deployments;
  const progress = o.progressEvents ?? 4;
  const releases = Math.max(1, Math.ceil(n / 10));
  const end = o.end.toISOString();
  // Deployment i (1..n) is created at t(i); the release r serves deployments 10(r-1)+1 .. 10r.
  const t = (i: string) => `('${end}'::timestamptz - interval '1 day' * ${o.days} * (1 - (${i})::float8 / ${n}) - interval '2 hours')`;
  const envs = `array['${o.environmentIds[0]}','${o.environmentIds[1]}','${o.environmentIds[2]}']::uuid[]`;
  const exec = (text: string) => rows(database, text);
  await exec(`
    insert into releases (project_id, version, commit_sha, branch, message, author, created_at)
    select '${o.projectId}', 'g' || r, lpad(to_hex(r), 12, '0'), 'main', 'generated ' || r, 'dev', ${t('10 * (r - 1) + 1')} - interval '1 hour'
    from generate_series(1, ${releases}) r`);
  await exec(`
    insert into deployments (project_id, environment_id, release_id, kind, status, requested_by, required_approvals, snapshot, workflow_id, last_seq, queued_at, created_at, started_at, finished_at)
    select '${o.projectId}', (${envs})[1 + i % 3], rel.id,
      (case when i % 50 = 0 then 'ROLLBACK' when i % 3 = 2 then 'PROMOTION' else 'PUSH' end)::deployment_kind,
      (case when i % 10 = 3 then 'FAILED' else 'SUCCEEDED' end)::deployment_status,
      'dev', (case when i % 3 = 2 then 1 else 0 end), '{}'::jsonb, 'insights-' || i,
      ${progress} + 3 + (case when i % 300 = 2 then 4 when i % 3 = 2 then 2 else 0 end),
      ${t('i')}, ${t('i')}, ${t('i')} + interval '1 hour', ${t('i')} + interval '65 minutes'
    from generate_series(1, ${n}) i
    join releases rel on rel.project_id = '${o.projectId}' and rel.commit_sha = lpad(to_hex(1 + (i - 1) / 10), 12, '0')`);
  // The event log, in each deployment's order: (seq, type, status, offset from its creation).
  const approval = progress + 4;
  await exec(`
    insert into deployment_events (deployment_id, project_id, seq, type, status, message, created_at)
    select d.id, d.project_id, ev.seq, ev.type::deployment_event_type, ev.status::deployment_status, null, d.created_at + ev.offset_
    from deployments d
    cross join lateral (select substr(d.workflow_id, 10)::int as i) g
    cross join lateral (
      select 1 as seq, 'CREATED' as type, 'QUEUED' as status, interval '0' as offset_
      union all select 2, 'STARTED', 'RUNNING', interval '1 hour'
      union all select 2 + s, 'STEP_PROGRESS', 'RUNNING', interval '1 hour' + interval '1 second' * s from generate_series(1, ${progress}) s
      union all select ${progress} + 3, d.status::text, d.status::text, interval '65 minutes'
      union all select ${approval}, 'APPROVAL_REQUESTED', 'PENDING_APPROVAL', interval '1 millisecond' where d.required_approvals > 0
      union all select ${approval} + 1, 'APPROVED', 'QUEUED', interval '1 minute' * (g.i % 61) where d.required_approvals > 0
      union all select ${approval} + 2, 'APPROVALS_INVALIDATED', 'PENDING_APPROVAL', interval '1 minute' * (g.i % 61) + interval '1 millisecond' where g.i % 300 = 2
      union all select ${approval} + 3, 'APPROVED', 'QUEUED', interval '1 minute' * (g.i % 61) + interval '30 seconds' where g.i % 300 = 2
    ) ev
    where d.project_id = '${o.projectId}' and d.workflow_id like 'insights-%'`);
  for (const statement of DEPLOYMENT_INSTANTS_BACKFILL) await exec(statement);
  // Index-only scans need the visibility map: autovacuum would set it on a real server.
  await exec('vacuum analyze');
}
