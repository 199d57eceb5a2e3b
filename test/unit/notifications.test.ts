// The pure rules of notifications: which deployment events notify (including the types other
// features add by name), environment globs, the URL checks, the payload shapes and the backoff.
import { describe, expect, it } from 'vitest';
import {
  channelHears,
  channelUrlProblem,
  DEPLOYMENT_EVENT_NOTIFICATIONS,
  environmentMatches,
  globMatches,
  notificationEventOf,
  type NotificationFacts,
  retryDelayMs,
  slackMessage,
  urlHostOf,
  webhookBody,
} from '../../domain/notifications.ts';
import { DEPLOYMENT_EVENT_TYPES, NOTIFICATION_EVENTS } from '../../domain/values.ts';

describe('notificationEventOf', () => {
  it.each([
    ['APPROVAL_REQUESTED', 'APPROVAL_REQUESTED'],
    ['SUCCEEDED', 'DEPLOYMENT_SUCCEEDED'],
    ['FAILED', 'DEPLOYMENT_FAILED'],
    ['REJECTED', 'DEPLOYMENT_REJECTED'],
    ['EXPIRED', 'DEPLOYMENT_EXPIRED'],
    // Added to DEPLOYMENT_EVENT_TYPES by the verification and freeze features: mapped by name.
    ['ROLLBACK_STARTED', 'DEPLOYMENT_ROLLED_BACK'],
    ['FREEZE_OVERRIDDEN', 'FREEZE_OVERRIDDEN'],
  ])('%s notifies as %s', (type, event) => {
    expect(notificationEventOf(type)).toBe(event);
  });

  it('makes no notification of the other event types', () => {
    const silent = DEPLOYMENT_EVENT_TYPES.filter((t) => notificationEventOf(t) === null);
    expect(silent).toEqual(expect.arrayContaining(['CREATED', 'APPROVED', 'STARTED', 'STEP_PROGRESS', 'LOG', 'CANCELLED']));
    expect(notificationEventOf('toString')).toBeNull();
    expect(notificationEventOf('constructor')).toBeNull();
  });

  it('maps only to events of the contract, never to TEST or SECRET_ROTATED', () => {
    for (const event of Object.values(DEPLOYMENT_EVENT_NOTIFICATIONS)) expect(NOTIFICATION_EVENTS).toContain(event);
    expect(Object.values(DEPLOYMENT_EVENT_NOTIFICATIONS)).not.toContain('TEST');
    expect(Object.values(DEPLOYMENT_EVENT_NOTIFICATIONS)).not.toContain('SECRET_ROTATED');
  });
});

describe('environment globs', () => {
  it.each([
    ['production', 'production', true],
    ['prod*', 'production', true],
    ['*-eu', 'prod-eu', true],
    ['*-eu', 'prod-us', false],
    ['stag?ng', 'staging', true],
    ['staging', 'staging-2', false],
    ['pr.d', 'prod', false], // a dot is literal
  ])('%s against %s: %s', (glob, slug, hit) => {
    expect(globMatches(glob, slug)).toBe(hit);
  });

  it('hears every environment without globs, and an environment-less event whatever the globs', () => {
    expect(environmentMatches([], 'anything')).toBe(true);
    expect(environmentMatches(['production'], null)).toBe(true);
    expect(environmentMatches(['production', 'stag*'], 'staging')).toBe(true);
    expect(environmentMatches(['production'], 'staging')).toBe(false);
  });

  it('needs the event, the environment and the channel enabled', () => {
    const channel = { events: ['DEPLOYMENT_FAILED'], environmentSlugs: ['prod*'], enabled: true };
    expect(channelHears(channel, 'DEPLOYMENT_FAILED', 'production')).toBe(true);
    expect(channelHears(channel, 'DEPLOYMENT_SUCCEEDED', 'production')).toBe(false);
    expect(channelHears(channel, 'DEPLOYMENT_FAILED', 'staging')).toBe(false);
    expect(channelHears({ ...channel, enabled: false }, 'DEPLOYMENT_FAILED', 'production')).toBe(false);
  });
});

describe('channel URLs', () => {
  it('accepts http(s) up to 2 KiB and names the problem otherwise', () => {
    expect(channelUrlProblem('https://hooks.slack.com/services/T/B/x')).toBeNull();
    expect(channelUrlProblem('http://127.0.0.1:8080/hook')).toBeNull();
    expect(channelUrlProblem('ftp://example.com/x')).toMatch(/http/);
    expect(channelUrlProblem('javascript:alert(1)')).toMatch(/http/);
    expect(channelUrlProblem('/relative')).toMatch(/absolute/);
    const base = 'https://example.com/';
    expect(channelUrlProblem(base + 'a'.repeat(2048 - base.length))).toBeNull();
    expect(channelUrlProblem(base + 'a'.repeat(2049 - base.length))).toMatch(/2048 bytes/);
  });

  it('never quotes the URL in a problem', () => {
    for (const url of ['ftp://secret-token@x/y', `https://x/${'s'.repeat(3000)}`, 'nonsense secret-token'])
      expect(channelUrlProblem(url) ?? '').not.toMatch(/secret-token|sss/);
  });

  it('exposes the host and port only', () => {
    expect(urlHostOf('https://hooks.slack.com/services/T0/B0/secret?x=1')).toBe('hooks.slack.com');
    expect(urlHostOf('http://127.0.0.1:9000/path/secret')).toBe('127.0.0.1:9000');
  });
});

const facts: NotificationFacts = {
  id: 'ZGVsaXZlcnk=',
  event: 'APPROVAL_REQUESTED',
  project: 'shop',
  environment: 'production',
  deployment: {
    id: 'RGVwbG95bWVudDox',
    status: 'PENDING_APPROVAL',
    kind: 'PROMOTION',
    release: { version: '1.2.3-<b>', commitSha: 'abcdef1234567890' },
    requestedBy: 'ada',
    url: 'https://console.example/deployments/RGVwbG95bWVudDox',
  },
  message: 'Needs 1 approval',
  at: '2026-12-02T00:00:00.000Z',
  approvers: { roles: ['APPROVER', 'ADMIN'], people: ['carol'] },
};

describe('payloads', () => {
  it('puts the contract fields of a WEBHOOK body first, in order', () => {
    const body = JSON.parse(webhookBody(facts));
    expect(Object.keys(body)).toEqual(['id', 'event', 'project', 'environment', 'deployment', 'message', 'at', 'approvers']);
    expect(Object.keys(body.deployment)).toEqual(['id', 'status', 'kind', 'release', 'requestedBy', 'url']);
  });

  it('builds a Slack message with text and blocks naming project, environment, release, status, who and the link', () => {
    const { text, blocks } = slackMessage(facts);
    expect(text).toContain('shop/production');
    const all = JSON.stringify(blocks);
    for (const needle of ['shop', 'production', '1.2.3-&lt;b&gt;', 'PENDING_APPROVAL', 'ada', 'carol', 'APPROVER'])
      expect(all).toContain(needle);
    expect(all).not.toContain('<b>'); // user text is escaped for mrkdwn
    const actions = blocks.find((b) => b.type === 'actions') as { elements: { url: string }[] };
    expect(actions.elements[0]!.url).toBe(facts.deployment!.url);
  });

  it('builds a Slack message for an event without a deployment', () => {
    const { text, blocks } = slackMessage({ ...facts, event: 'TEST', environment: null, deployment: null, approvers: undefined });
    expect(text).toContain('Test notification');
    expect(blocks.some((b) => b.type === 'actions')).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it('doubles from the initial delay up to the maximum', () => {
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(a, 1000, 10_000))).toEqual([1000, 2000, 4000, 8000, 10_000]);
    expect(retryDelayMs(500, 1000, 3_600_000)).toBe(3_600_000);
  });
});
