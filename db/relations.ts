import { defineRelations, sql } from 'drizzle-orm';
import { TERMINAL_STATUSES } from '../domain/values.ts';
import { sqlLiterals } from './schema/common.ts';
import * as schema from './schema/index.ts';

// Relations for the relational query builder (and so for Pothos' drizzle plugin).
export const relations = defineRelations(schema, (r) => ({
  projects: {
    environments: r.many.environments(),
    secrets: r.many.secrets(),
    databaseConnections: r.many.databaseConnections(),
    releases: r.many.releases(),
    deployments: r.many.deployments(),
    members: r.many.projectMembers(),
    trustPolicies: r.many.trustPolicies(),
    notificationChannels: r.many.notificationChannels(),
    freezeWindows: r.many.freezeWindows(),
  },
  notificationChannels: {
    project: r.one.projects({ from: r.notificationChannels.projectId, to: r.projects.id, optional: false }),
    deliveries: r.many.notificationDeliveries(),
  },
  notificationDeliveries: {
    channel: r.one.notificationChannels({ from: r.notificationDeliveries.channelId, to: r.notificationChannels.id, optional: false }),
  },
  projectMembers: {
    project: r.one.projects({ from: r.projectMembers.projectId, to: r.projects.id, optional: false }),
  },
  trustPolicies: {
    project: r.one.projects({ from: r.trustPolicies.projectId, to: r.projects.id, optional: false }),
  },
  environments: {
    project: r.one.projects({ from: r.environments.projectId, to: r.projects.id, optional: false }),
    promotesFrom: r.one.environments({ from: r.environments.promotesFromId, to: r.environments.id }),
    databaseValues: r.many.databaseConnectionValues(),
    secretValues: r.many.secretValues(),
    deployments: r.many.deployments({ from: r.environments.id, to: r.deployments.environmentId }),
    // Filtered views, so currentRelease and activeDeployment plan into the pipeline query itself.
    // The status filters are SQL literals, not parameters, and spelled as the predicates of the
    // partial indexes that serve them (deployments_environment_succeeded_idx and
    // deployments_environment_unfinished_idx): the API prepares its statements, and a generic
    // plan of `status = $1` could not use a partial index at all.
    succeededDeployments: r.many.deployments({
      from: r.environments.id,
      to: r.deployments.environmentId,
      where: { RAW: (t) => sql`${t.status} = 'SUCCEEDED'` },
    }),
    quarantines: r.many.releaseQuarantines({ from: r.environments.id, to: r.releaseQuarantines.environmentId }),
    unfinishedDeployments: r.many.deployments({
      from: r.environments.id,
      to: r.deployments.environmentId,
      where: { RAW: (t) => sql`${t.status} not in (${sqlLiterals(TERMINAL_STATUSES)})` },
    }),
  },
  databaseConnections: {
    project: r.one.projects({ from: r.databaseConnections.projectId, to: r.projects.id, optional: false }),
    values: r.many.databaseConnectionValues(),
  },
  databaseConnectionValues: {
    connection: r.one.databaseConnections({
      from: r.databaseConnectionValues.connectionId,
      to: r.databaseConnections.id,
      optional: false,
    }),
    environment: r.one.environments({
      from: r.databaseConnectionValues.environmentId,
      to: r.environments.id,
      optional: false,
    }),
    passwordSecret: r.one.secrets({ from: r.databaseConnectionValues.passwordSecretId, to: r.secrets.id }),
  },
  secrets: {
    project: r.one.projects({ from: r.secrets.projectId, to: r.projects.id, optional: false }),
    values: r.many.secretValues(),
  },
  secretValues: {
    secret: r.one.secrets({ from: r.secretValues.secretId, to: r.secrets.id, optional: false }),
    environment: r.one.environments({ from: r.secretValues.environmentId, to: r.environments.id, optional: false }),
  },
  releases: {
    project: r.one.projects({ from: r.releases.projectId, to: r.projects.id, optional: false }),
  },
  deployments: {
    project: r.one.projects({ from: r.deployments.projectId, to: r.projects.id, optional: false }),
    environment: r.one.environments({ from: r.deployments.environmentId, to: r.environments.id, optional: false }),
    sourceEnvironment: r.one.environments({ from: r.deployments.sourceEnvironmentId, to: r.environments.id }),
    release: r.one.releases({ from: r.deployments.releaseId, to: r.releases.id, optional: false }),
    approvals: r.many.approvals(),
    events: r.many.deploymentEvents(),
    rollbackOf: r.one.deployments({ from: r.deployments.rollbackOfId, to: r.deployments.id, alias: 'rollback' }),
    rolledBackBy: r.one.deployments({ from: r.deployments.id, to: r.deployments.rollbackOfId, alias: 'rollback' }),
    freezeOverride: r.one.freezeOverrides({ from: r.deployments.id, to: r.freezeOverrides.deploymentId }),
  },
  releaseQuarantines: {
    environment: r.one.environments({ from: r.releaseQuarantines.environmentId, to: r.environments.id, optional: false }),
    release: r.one.releases({ from: r.releaseQuarantines.releaseId, to: r.releases.id, optional: false }),
  },
  approvals: {
    deployment: r.one.deployments({ from: r.approvals.deploymentId, to: r.deployments.id, optional: false }),
  },
  deploymentEvents: {
    deployment: r.one.deployments({ from: r.deploymentEvents.deploymentId, to: r.deployments.id, optional: false }),
  },
  freezeWindows: {
    project: r.one.projects({ from: r.freezeWindows.projectId, to: r.projects.id, optional: false }),
  },
  freezeOverrides: {
    window: r.one.freezeWindows({ from: r.freezeOverrides.windowId, to: r.freezeWindows.id, optional: false }),
  },
}));
