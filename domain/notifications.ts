// Notifications (contract README "v2 → Notifications"): which deployment events notify, which
// channels an event reaches, the WEBHOOK payload and the SLACK message, and the retry schedule.
// Pure: the caller loads the rows and signs the body (workflows/activities/notifications.ts).
import type { KnownBlock } from '@slack/types';
import type { DeploymentKind, DeploymentStatus, Role } from './types.ts';
import type { DELIVERY_STATUSES, NOTIFICATION_EVENTS, NOTIFICATION_KINDS } from './values.ts';

export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * The deployment event types that notify, by name. FREEZE_OVERRIDDEN and ROLLBACK_STARTED are
 * added to DEPLOYMENT_EVENT_TYPES by the freeze and verification features; keyed by string so
 * they notify as soon as those types are appended.
 */
export const DEPLOYMENT_EVENT_NOTIFICATIONS: Readonly<Record<string, NotificationEvent>> = Object.freeze({
  APPROVAL_REQUESTED: 'APPROVAL_REQUESTED',
  SUCCEEDED: 'DEPLOYMENT_SUCCEEDED',
  FAILED: 'DEPLOYMENT_FAILED',
  REJECTED: 'DEPLOYMENT_REJECTED',
  EXPIRED: 'DEPLOYMENT_EXPIRED',
  ROLLBACK_STARTED: 'DEPLOYMENT_ROLLED_BACK',
  FREEZE_OVERRIDDEN: 'FREEZE_OVERRIDDEN',
});

/** The notification a deployment event of `type` makes, or null when it makes none. */
export function notificationEventOf(type: string): NotificationEvent | null {
  return Object.hasOwn(DEPLOYMENT_EVENT_NOTIFICATIONS, type) ? DEPLOYMENT_EVENT_NOTIFICATIONS[type]! : null;
}

/** `*` any run of characters, `?` one; everything else literal. Whole-slug match. */
export function globMatches(glob: string, value: string): boolean {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${pattern}$`).test(value);
}

/**
 * Whether a channel filtered by `globs` hears an event of environment `slug`. No globs: every
 * environment. An event of no environment (TEST) passes any filter.
 */
export function environmentMatches(globs: readonly string[], slug: string | null): boolean {
  if (globs.length === 0 || slug === null) return true;
  return globs.some((g) => globMatches(g, slug));
}

/** Whether a channel with these settings gets a delivery of `event` in environment `slug`. */
export function channelHears(
  channel: { events: readonly string[]; environmentSlugs: readonly string[]; enabled: boolean },
  event: NotificationEvent,
  slug: string | null,
): boolean {
  return channel.enabled && channel.events.includes(event) && environmentMatches(channel.environmentSlugs, slug);
}

export const MAX_CHANNEL_URL_BYTES = 2048;

/** What a response may say of a channel URL: its host, or host:port. Never the path or query. */
export function urlHostOf(url: string): string {
  return new URL(url).host;
}

/** The refusal of a channel URL, or null: http(s), at most 2 KiB, no credentials in it are the contract's. */
export function channelUrlProblem(url: string): string | null {
  if (Buffer.byteLength(url, 'utf8') > MAX_CHANNEL_URL_BYTES) return `must be at most ${MAX_CHANNEL_URL_BYTES} bytes`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute http:// or https:// URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (!parsed.hostname) return 'must name a host';
  return null;
}

/** Who may approve a deployment that waits for approval (APPROVAL_REQUESTED). */
export interface Approvers {
  /** The environment's approverRoles; ADMIN may always approve. */
  roles: Role[];
  /** Subjects granted one of those roles in the project (project_members). */
  people: string[];
}

/** Everything a delivery's message says, fixed when the delivery is made (every attempt sends the same bytes). */
export interface NotificationFacts {
  /** The delivery's public id: the payload's `id` and the Idempotency-Key. */
  id: string;
  event: NotificationEvent;
  project: string;
  environment: string | null;
  deployment: {
    id: string;
    status: DeploymentStatus;
    kind: DeploymentKind;
    release: { version: string; commitSha: string };
    requestedBy: string;
    url: string;
  } | null;
  message: string;
  at: string;
  /** APPROVAL_REQUESTED only. */
  approvers?: Approvers;
  /** Who acted, when it was not the deployment's requester (a decision, a rotation, a test). */
  actor?: string;
}

/** The WEBHOOK body: the contract's fields in its order, then the additions. */
export function webhookBody(facts: NotificationFacts): string {
  const { id, event, project, environment, deployment, message, at, approvers, actor } = facts;
  return JSON.stringify({
    id,
    event,
    project,
    environment,
    deployment,
    message,
    at,
    ...(approvers ? { approvers } : {}),
    ...(actor ? { actor } : {}),
  });
}

const EVENT_TITLES: Record<NotificationEvent, string> = {
  APPROVAL_REQUESTED: 'Approval requested',
  DEPLOYMENT_SUCCEEDED: 'Deployment succeeded',
  DEPLOYMENT_FAILED: 'Deployment failed',
  DEPLOYMENT_REJECTED: 'Deployment rejected',
  DEPLOYMENT_EXPIRED: 'Approval expired',
  DEPLOYMENT_ROLLED_BACK: 'Deployment rolled back',
  FREEZE_OVERRIDDEN: 'Freeze overridden',
  SECRET_ROTATED: 'Secret rotated',
  TEST: 'Test notification',
};

// Slack mrkdwn: &, <, > are control characters; user-chosen text is escaped.
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A Slack incoming-webhook message: `text` (the notification fallback) and Block Kit `blocks`. */
export function slackMessage(facts: NotificationFacts): { text: string; blocks: KnownBlock[] } {
  const title = EVENT_TITLES[facts.event];
  const where = facts.environment ? `${facts.project}/${facts.environment}` : facts.project;
  const d = facts.deployment;
  const text = `${title}: ${where}${d ? ` ${d.release.version} (${d.status})` : ''} — ${facts.message}`;
  const fields: { type: 'mrkdwn'; text: string }[] = [
    { type: 'mrkdwn', text: `*Project*\n${esc(facts.project)}` },
    { type: 'mrkdwn', text: `*Environment*\n${esc(facts.environment ?? '—')}` },
  ];
  if (d) {
    fields.push(
      { type: 'mrkdwn', text: `*Release*\n${esc(d.release.version)} (\`${d.release.commitSha.slice(0, 12)}\`)` },
      { type: 'mrkdwn', text: `*Status*\n${d.status}` },
      { type: 'mrkdwn', text: `*Requested by*\n${esc(d.requestedBy)}` },
    );
  }
  if (facts.actor) fields.push({ type: 'mrkdwn', text: `*By*\n${esc(facts.actor)}` });
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: title } },
    { type: 'section', text: { type: 'mrkdwn', text: esc(facts.message) }, fields: fields.slice(0, 10) },
  ];
  if (facts.approvers) {
    const who = [
      `roles ${facts.approvers.roles.map(esc).join(', ')}`,
      ...(facts.approvers.people.length ? [`people ${facts.approvers.people.map(esc).join(', ')}`] : []),
    ].join('; ');
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*May approve:* ${who}` } });
  }
  if (d) {
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: facts.event === 'APPROVAL_REQUESTED' ? 'Review and approve' : 'Open deployment' },
          url: d.url,
        },
      ],
    });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${facts.event} · ${facts.at} · delivery ${facts.id}` }] });
  return { text, blocks };
}

/** The body each kind of channel receives. */
export function deliveryBody(kind: NotificationKind, facts: NotificationFacts): string {
  return kind === 'SLACK' ? JSON.stringify(slackMessage(facts)) : webhookBody(facts);
}

/** Retry backoff: initial × 2^(attempt−1), at most `maxMs`. `attempt` counts from 1 (the first failure). */
export function retryDelayMs(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
}

/** Whether an HTTP status answers a delivery as delivered (the contract: a 2xx). */
export const isDelivered = (status: number) => status >= 200 && status < 300;
