// The notification outbox: a delivery row per channel that hears an event, written in the same
// transaction as the event (a deployment event in db/event-log.ts, a rotation in
// secrets/rotation.ts, a test in services/notifications.ts), so an event that commits has its
// deliveries and one that rolls back has none. The relay (workflows/notification-relay.ts) starts
// one workflow per row after the commit; nothing waits in memory.
import { randomUUID } from 'node:crypto';
import { and, arrayContains, eq, sql } from 'drizzle-orm';
import { publicId } from '../domain/ids.ts';
import { type Approvers, channelHears, type NotificationEvent, type NotificationFacts } from '../domain/notifications.ts';
import type { DeploymentStatus, Role } from '../domain/types.ts';
import type { Queryable } from './client.ts';
import {
  deployments,
  environments,
  notificationChannels,
  notificationDeliveries,
  projectMembers,
  projects,
  releases,
} from './schema/index.ts';

/** Rows the relay should start: woken by this NOTIFY (delivered on commit only), else by its poll. */
export const NOTIFICATIONS_CHANNEL = 'stageplane_notifications';

/** The console path of a deployment; the activity prefixes PUBLIC_URL when it sends. */
export const deploymentPath = (deploymentId: string) => `/deployments/${encodeURIComponent(publicId('Deployment', deploymentId))}`;

export interface NotificationSource {
  projectId: string;
  event: NotificationEvent;
  /** The environment the event happened in (null: none, e.g. TEST). */
  environmentId: string | null;
  deploymentId?: string | null;
  message: string;
  /** The deployment's status as of the event (the row may be updated after the append). */
  status?: DeploymentStatus;
  actor?: string;
  /** Only this channel (testNotificationChannel), whatever its filters. */
  channelId?: string;
  at?: Date;
}

/**
 * Writes one delivery per matching channel of the project; returns their ids (empty: no channel
 * hears it — one indexed query, and nothing else, for a project without channels).
 */
export async function enqueueNotifications(tx: Queryable, source: NotificationSource): Promise<string[]> {
  const channels = await tx
    .select({
      id: notificationChannels.id,
      events: notificationChannels.events,
      environmentSlugs: notificationChannels.environmentSlugs,
      enabled: notificationChannels.enabled,
    })
    .from(notificationChannels)
    .where(
      source.channelId
        ? and(eq(notificationChannels.id, source.channelId), eq(notificationChannels.projectId, source.projectId))
        : and(eq(notificationChannels.projectId, source.projectId), arrayContains(notificationChannels.events, [source.event])),
    );
  if (channels.length === 0) return [];
  const [project] = await tx.select({ slug: projects.slug }).from(projects).where(eq(projects.id, source.projectId));
  const environment = source.environmentId
    ? (await tx.select().from(environments).where(eq(environments.id, source.environmentId)))[0]
    : undefined;
  const slug = environment?.slug ?? null;
  const hearing = source.channelId ? channels : channels.filter((c) => channelHears(c, source.event, slug));
  if (hearing.length === 0 || !project) return [];

  let deployment: NotificationFacts['deployment'] = null;
  if (source.deploymentId) {
    const [d] = await tx
      .select({ d: deployments, version: releases.version, commitSha: releases.commitSha })
      .from(deployments)
      .innerJoin(releases, eq(releases.id, deployments.releaseId))
      .where(eq(deployments.id, source.deploymentId));
    if (d) {
      deployment = {
        id: publicId('Deployment', d.d.id),
        status: source.status ?? d.d.status,
        kind: d.d.kind,
        release: { version: d.version, commitSha: d.commitSha },
        requestedBy: d.d.requestedBy,
        url: deploymentPath(d.d.id),
      };
    }
  }
  let approvers: Approvers | undefined;
  if (source.event === 'APPROVAL_REQUESTED' && environment) {
    const roles = [...new Set<Role>([...environment.policy.approverRoles, 'ADMIN'])];
    const people = await tx
      .select({ subject: projectMembers.subject })
      .from(projectMembers)
      .where(
        and(
          eq(projectMembers.projectId, source.projectId),
          sql`${projectMembers.subject} is not null`,
          sql`${projectMembers.roles} && ${sql.raw(`array[${roles.map((r) => `'${r}'`).join(',')}]::text[]`)}`,
        ),
      )
      .orderBy(projectMembers.subject);
    // Where self-approval is prevented, the requester is not among those who may approve.
    const requester = environment.policy.preventSelfApproval ? deployment?.requestedBy : undefined;
    approvers = { roles, people: people.map((p) => p.subject!).filter((s) => s !== requester) };
  }
  const at = (source.at ?? new Date()).toISOString();
  const rows = hearing.map((c) => {
    const id = randomUUID();
    const facts: NotificationFacts = {
      id: publicId('NotificationDelivery', id),
      event: source.event,
      project: project.slug,
      environment: slug,
      deployment,
      message: source.message,
      at,
      ...(approvers ? { approvers } : {}),
      ...(source.actor ? { actor: source.actor } : {}),
    };
    return { id, channelId: c.id, projectId: source.projectId, event: source.event, deploymentId: source.deploymentId ?? null, facts };
  });
  await tx.insert(notificationDeliveries).values(rows);
  await tx.execute(sql`select pg_notify(${NOTIFICATIONS_CHANNEL}, '')`);
  return rows.map((r) => r.id);
}
