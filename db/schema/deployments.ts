import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigserial,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { ConfigSnapshot, DeploymentStep, VerificationRecord } from '../../domain/types.ts';
import {
  APPROVAL_DECISIONS,
  DEPLOYMENT_EVENT_TYPES,
  DEPLOYMENT_KINDS,
  DEPLOYMENT_STATUSES,
  TERMINAL_STATUSES,
} from '../../domain/values.ts';
import { createdAt, sqlLiterals, timestamptz } from './common.ts';
import { environments } from './environments.ts';
import { projects } from './projects.ts';

export const releases = pgTable(
  'releases',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    version: text('version').notNull(),
    commitSha: text('commit_sha').notNull(),
    branch: text('branch').notNull(),
    message: text('message'),
    author: text('author'),
    createdAt: createdAt(),
  },
  (t) => [
    // The same commit pushed twice is one release.
    unique('releases_project_commit_unique').on(t.projectId, t.commitSha),
    check('releases_commit_sha_format', sql`${t.commitSha} ~ '^[0-9a-f]{7,40}$'`),
    // Project.releases, newest first: (created_at, id) is the connection's order and cursor.
    index('releases_project_created_idx').on(t.projectId, t.createdAt, t.id),
  ],
);

export const deploymentKind = pgEnum('deployment_kind', DEPLOYMENT_KINDS);
export const deploymentStatus = pgEnum('deployment_status', DEPLOYMENT_STATUSES);

export const deployments = pgTable(
  'deployments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    releaseId: uuid('release_id')
      .notNull()
      .references(() => releases.id, { onDelete: 'cascade' }),
    sourceEnvironmentId: uuid('source_environment_id').references(() => environments.id, { onDelete: 'set null' }),
    kind: deploymentKind('kind').notNull(),
    status: deploymentStatus('status').notNull().default('QUEUED'),
    requestedBy: text('requested_by').notNull(),
    requiredApprovals: integer('required_approvals').notNull().default(0),
    steps: jsonb('steps').$type<DeploymentStep[]>().notNull().default([]),
    progress: doublePrecision('progress').notNull().default(0),
    error: text('error'),
    snapshot: jsonb('snapshot').$type<ConfigSnapshot>().notNull(),
    workflowId: text('workflow_id').notNull(),
    // sha256 of the per-deployment callback token given to WEBHOOK receivers.
    callbackTokenHash: text('callback_token_hash'),
    lastSeq: integer('last_seq').notNull().default(0),
    // v2: the verification pinned with the deployment and its progress (null: made before v2, SKIPPED).
    verification: jsonb('verification').$type<VerificationRecord>(),
    // v2: for an automatic rollback, the deployment whose failed verification started it.
    rollbackOfId: uuid('rollback_of_id').references((): AnyPgColumn => deployments.id, { onDelete: 'set null' }),
    // When the deployment joined its environment's queue to run (approved, wait timer over).
    queuedAt: timestamptz('queued_at'),
    createdAt: createdAt(),
    startedAt: timestamptz('started_at'),
    finishedAt: timestamptz('finished_at'),
    // What Project.insights reads of the event log, one row per deployment: the `at` of the events
    // that define them, written by appendDeploymentEvent (db/event-log.ts) in the transaction that
    // appends the event (the migration backfilled them the same way). The SUCCEEDED or FAILED
    // event (at most one: both are terminal), with its release's creation (releases never change).
    outcomeAt: timestamptz('outcome_at'),
    releaseCreatedAt: timestamptz('release_created_at'),
    // The first event with status PENDING_APPROVAL (by seq).
    approvalRequestedAt: timestamptz('approval_requested_at'),
    // The earliest and the latest decision: an APPROVED that ended PENDING_APPROVAL, or REJECTED.
    // Two differ only when approvals were voided after the quorum and it was decided again.
    approvalFirstDecidedAt: timestamptz('approval_first_decided_at'),
    approvalDecidedAt: timestamptz('approval_decided_at'),
  },
  (t) => [
    unique('deployments_workflow_id_unique').on(t.workflowId),
    check('deployments_progress_range', sql`${t.progress} >= 0 and ${t.progress} <= 1`),
    check('deployments_required_approvals_range', sql`${t.requiredApprovals} >= 0`),
    // Every "latest / active / first N" read of deployments is a range scan of one of these,
    // read in index order and stopped by its limit (test/integration/history-plans.test.ts).
    // Project.deployments and Environment.deployments, newest first: (created_at, id) is the
    // connection's order and its cursor.
    index('deployments_project_created_idx').on(t.projectId, t.createdAt, t.id),
    index('deployments_environment_created_idx').on(t.environmentId, t.createdAt, t.id),
    // Environment.currentRelease, and the release a promotion or rollback ships: the newest
    // SUCCEEDED deployment(s) of an environment. Ascending, read backward: that is exactly
    // `finished_at desc, created_at desc` (NULLS FIRST, PostgreSQL's default for desc), which
    // a DESC column here would not be (drizzle-kit writes DESC NULLS LAST).
    index('deployments_environment_succeeded_idx').on(t.environmentId, t.finishedAt, t.createdAt).where(sql`${t.status} = 'SUCCEEDED'`),
    // Environment.activeDeployment and the queue lease's "who is ahead": the few unfinished
    // deployments of an environment, oldest first. The predicate is the one those queries state
    // (status not in the terminal statuses; QUEUED/WAITING/RUNNING imply it).
    index('deployments_environment_unfinished_idx')
      .on(t.environmentId, t.createdAt, t.id)
      .where(sql`${t.status} not in (${sqlLiterals(TERMINAL_STATUSES)})`),
    // recordPush's "this commit was already pushed" and the promote/rollback release check.
    index('deployments_release_idx').on(t.releaseId),
    // At most one RUNNING deployment per environment, whatever the code above does.
    // One automatic rollback per failed deployment, however often the activity that makes it is
    // retried; and Deployment.rolledBackBy's lookup.
    uniqueIndex('deployments_rollback_of_unique').on(t.rollbackOfId),
    uniqueIndex('deployments_one_running_per_environment').on(t.environmentId).where(sql`${t.status} = 'RUNNING'`),
    // Project.insights (services/insights.ts): an environment's outcomes and decisions in a time
    // range. What the statement reads of each rides along in the key (drizzle-kit writes no
    // INCLUDE), so both ranges are index-only scans; id orders equal instants as the statement does.
    index('deployments_environment_outcome_idx')
      .on(t.environmentId, t.outcomeAt, t.id, t.status, t.kind, t.releaseCreatedAt)
      .where(sql`${t.outcomeAt} is not null`),
    index('deployments_environment_decided_idx')
      .on(t.environmentId, t.approvalDecidedAt, t.approvalRequestedAt)
      .where(sql`${t.approvalDecidedAt} is not null`),
    // The few decided more than once, whose earlier decisions a range may hold without the last.
    index('deployments_environment_redecided_idx')
      .on(t.environmentId, t.approvalDecidedAt)
      .where(sql`${t.approvalFirstDecidedAt} < ${t.approvalDecidedAt}`),
  ],
);

export const approvalDecision = pgEnum('approval_decision', APPROVAL_DECISIONS);

export const approvals = pgTable(
  'approvals',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    deploymentId: uuid('deployment_id')
      .notNull()
      .references(() => deployments.id, { onDelete: 'cascade' }),
    approver: text('approver').notNull(),
    decision: approvalDecision('decision').notNull(),
    comment: text('comment'),
    // Approvals voided by a configuration change stay for the record but no longer count.
    invalidatedAt: timestamptz('invalidated_at'),
    createdAt: createdAt(),
  },
  (t) => [
    // Once per person among the approvals that count.
    uniqueIndex('approvals_one_per_person').on(t.deploymentId, t.approver).where(sql`${t.invalidatedAt} is null`),
  ],
);

export const deploymentEventType = pgEnum('deployment_event_type', DEPLOYMENT_EVENT_TYPES);

export const deploymentEvents = pgTable(
  'deployment_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deploymentId: uuid('deployment_id')
      .notNull()
      .references(() => deployments.id, { onDelete: 'cascade' }),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    type: deploymentEventType('type').notNull(),
    status: deploymentStatus('status').notNull(),
    step: text('step'),
    progress: doublePrecision('progress'),
    message: text('message'),
    // Makes appends idempotent: a retried activity sends the same key and adds nothing.
    idempotencyKey: text('idempotency_key'),
    at: createdAt(),
  },
  (t) => [
    unique('deployment_events_seq_unique').on(t.deploymentId, t.seq),
    unique('deployment_events_idempotency_unique').on(t.deploymentId, t.idempotencyKey),
    // projectEvents' replay after a lost LISTEN (project_id in (...) and id > last seen), and the
    // project foreign key's cascade. Deployment.events and deploymentEvents' replay after a seq
    // are served by deployment_events_seq_unique (deployment_id, seq).
    index('deployment_events_project_id_idx').on(t.projectId, t.id),
    check('deployment_events_seq_positive', sql`${t.seq} >= 1`),
  ],
);

export type ReleaseRow = typeof releases.$inferSelect;
export type DeploymentRow = typeof deployments.$inferSelect;
export type DeploymentEventRow = typeof deploymentEvents.$inferSelect;
