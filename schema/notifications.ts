// Notification channels (contract "v2 → Notifications"): the channel, its deliveries, and
// create/delete/testNotificationChannel. The URL is never a field: only urlHost.
import { publicId } from '../domain/ids.ts';
import { CreateNotificationChannelInputSchema, IdSchema, parseInput } from '../domain/validation.ts';
import { DELIVERY_STATUSES, NOTIFICATION_EVENTS, NOTIFICATION_KINDS } from '../domain/values.ts';
import { createNotificationChannel, deleteNotificationChannel, testNotificationChannel } from '../services/notifications.ts';
import { builder, localId } from './builder.ts';
import { scopeOf } from './context.ts';
import { ProjectRef } from './projects.ts';

const NotificationKindEnum = builder.enumType('NotificationKind', { values: NOTIFICATION_KINDS });
const NotificationEventEnum = builder.enumType('NotificationEvent', { values: NOTIFICATION_EVENTS });
const DeliveryStatusEnum = builder.enumType('DeliveryStatus', { values: DELIVERY_STATUSES });

export const NotificationDeliveryRef = builder.drizzleObject('notificationDeliveries', {
  name: 'NotificationDelivery',
  fields: (t) => ({
    id: t.field({
      type: 'ID',
      description: 'also the Idempotency-Key header of every attempt',
      select: { columns: { id: true } },
      resolve: (d) => publicId('NotificationDelivery', d.id),
    }),
    event: t.expose('event', { type: NotificationEventEnum }),
    deploymentId: t.field({
      type: 'ID',
      nullable: true,
      select: { columns: { deploymentId: true } },
      resolve: (d) => (d.deploymentId ? publicId('Deployment', d.deploymentId) : null),
    }),
    status: t.expose('status', { type: DeliveryStatusEnum }),
    attempts: t.exposeInt('attempts'),
    lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
  }),
});

export const NotificationChannelRef = builder.drizzleNode('notificationChannels', {
  name: 'NotificationChannel',
  id: { column: (c) => c.id },
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.expose('kind', { type: NotificationKindEnum }),
    urlHost: t.exposeString('urlHost', { description: 'the URL itself is a credential: stored encrypted, never returned' }),
    events: t.expose('events', { type: [NotificationEventEnum] }),
    environmentSlugs: t.exposeStringList('environmentSlugs', { description: 'globs; empty: every environment' }),
    enabled: t.exposeBoolean('enabled'),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    deliveries: t.relation('deliveries', {
      description: 'newest first',
      args: { first: t.arg.int() },
      query: (args) => ({
        orderBy: { createdAt: 'desc', id: 'desc' },
        limit: Math.max(0, Math.min(args.first ?? 20, 500)),
      }),
    }),
  }),
});

builder.drizzleObjectFields(ProjectRef, (t) => ({
  notificationChannels: t.relation('notificationChannels', { query: { orderBy: { createdAt: 'asc', id: 'asc' } } }),
}));

const CreateNotificationChannelInput = builder.inputType('CreateNotificationChannelInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    name: t.string({ required: true }),
    kind: t.field({ type: NotificationKindEnum, required: true }),
    url: t.string({ required: true, description: 'http(s), at most 2 KiB; a credential: never returned' }),
    events: t.field({ type: [NotificationEventEnum], required: true }),
    environmentSlugs: t.stringList({ description: 'globs of environment slugs; empty or absent: every environment' }),
  }),
});

builder.mutationFields((t) => ({
  createNotificationChannel: t.drizzleField({
    type: NotificationChannelRef,
    args: { input: t.arg({ type: CreateNotificationChannelInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(CreateNotificationChannelInputSchema, args.input, 'input');
      return createNotificationChannel(scopeOf(ctx), localId(String(args.input.projectId), 'Project'), input, (tx, id) =>
        tx.query.notificationChannels.findFirst(query({ where: { id } })),
      );
    },
  }),

  deleteNotificationChannel: t.id({
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const id = parseInput(IdSchema, String(args.id), 'id');
      await deleteNotificationChannel(scopeOf(ctx), localId(id, 'NotificationChannel'));
      return id;
    },
  }),

  testNotificationChannel: t.drizzleField({
    type: NotificationDeliveryRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => {
      const id = parseInput(IdSchema, String(args.id), 'id');
      return testNotificationChannel(scopeOf(ctx), localId(id, 'NotificationChannel'), (tx, deliveryId) =>
        tx.query.notificationDeliveries.findFirst(query({ where: { id: deliveryId } })),
      );
    },
  }),
}));
