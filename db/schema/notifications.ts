// Notification channels of a project and their deliveries (contract "v2 → Notifications").
// A channel's URL is a credential: only its host is stored in clear; the URL itself is AES-256-GCM
// ciphertext under ENCRYPTION_KEY (secrets/credentials.ts), bound to the channel's id.
// A delivery row is the transactional outbox: it is written in the transaction of the event that
// causes it, and a relay (workflows/notification-relay.ts) starts its workflow after the commit.
import { sql } from 'drizzle-orm';
import { boolean, check, customType, index, integer, jsonb, pgEnum, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import type { NotificationFacts } from '../../domain/notifications.ts';
import { DELIVERY_STATUSES, NOTIFICATION_EVENTS, NOTIFICATION_KINDS } from '../../domain/values.ts';
import { createdAt, sqlLiterals, timestamptz } from './common.ts';
import { projects } from './projects.ts';

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => Buffer.from(v),
});

export const notificationKind = pgEnum('notification_kind', NOTIFICATION_KINDS);
export const notificationEvent = pgEnum('notification_event', NOTIFICATION_EVENTS);
export const deliveryStatus = pgEnum('delivery_status', DELIVERY_STATUSES);

export const notificationChannels = pgTable(
  'notification_channels',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    kind: notificationKind('kind').notNull(),
    urlHost: text('url_host').notNull(),
    urlKeyId: text('url_key_id').notNull(),
    urlNonce: bytea('url_nonce').notNull(),
    urlCiphertext: bytea('url_ciphertext').notNull(),
    events: notificationEvent('events').array().notNull(),
    environmentSlugs: text('environment_slugs').array().notNull().default(sql`'{}'::text[]`),
    enabled: boolean('enabled').notNull().default(true),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    check('notification_channels_events_nonempty', sql`cardinality(${t.events}) >= 1`),
    index('notification_channels_project_idx').on(t.projectId),
  ],
);

export const notificationDeliveries = pgTable(
  'notification_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // A deleted channel's deliveries go with it; their workflows find no row and stop unsent.
    channelId: uuid('channel_id')
      .notNull()
      .references(() => notificationChannels.id, { onDelete: 'cascade' }),
    projectId: uuid('project_id').notNull(),
    event: notificationEvent('event').notNull(),
    deploymentId: uuid('deployment_id'),
    /** What the message says, fixed at creation so every attempt sends the same bytes. */
    facts: jsonb('facts').$type<NotificationFacts>().notNull(),
    status: deliveryStatus('status').notNull().default('PENDING'),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    deliveredAt: timestamptz('delivered_at'),
    /**
     * Set once a relay has claimed the row (it attempts it at once, and starts a workflow for
     * the retries) or started its workflow; null rows are the relays' to claim.
     */
    dispatchedAt: timestamptz('dispatched_at'),
    /**
     * While a relay makes the first attempt itself: until when its claim holds. Null once the
     * row is handed to a workflow (or was never claimed), so the sweep never hands back a row a
     * workflow owns.
     */
    claimedUntil: timestamptz('claimed_until'),
  },
  (t) => [
    index('notification_deliveries_channel_created_idx').on(t.channelId, t.createdAt.desc(), t.id.desc()),
    // The relay's queue: undispatched rows only.
    index('notification_deliveries_undispatched_idx')
      .on(t.createdAt)
      .where(sql`${t.dispatchedAt} is null and ${t.status} in (${sqlLiterals(['PENDING', 'RETRYING'])})`),
    // Claimed and never handed to a workflow (the claiming worker died mid-attempt, or before it
    // could start the workflow): such rows are few and short-lived, so the sweep reads a small index.
    index('notification_deliveries_claimed_idx')
      .on(t.claimedUntil)
      .where(sql`${t.claimedUntil} is not null and ${t.status} in (${sqlLiterals(['PENDING', 'RETRYING'])})`),
  ],
);

export type NotificationChannelRow = typeof notificationChannels.$inferSelect;
export type NotificationDeliveryRow = typeof notificationDeliveries.$inferSelect;
