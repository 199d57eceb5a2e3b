import { describe, expect, it } from 'vitest';
import type { DeploymentStatus } from '../../domain/types.ts';
import { IllegalTransition, isTerminal, transition, type Happening } from '../../domain/deployment-state.ts';
import { DEPLOYMENT_STATUSES } from '../../domain/values.ts';

const ALL: readonly DeploymentStatus[] = DEPLOYMENT_STATUSES;

// Every legal transition: [from, happening, to, event]. Anything not listed must be refused.
const LEGAL: [DeploymentStatus, Happening, DeploymentStatus, string][] = [
  ['QUEUED', { kind: 'request-approval' }, 'PENDING_APPROVAL', 'APPROVAL_REQUESTED'],
  ['PENDING_APPROVAL', { kind: 'approve', approvalsAfter: 1, required: 2 }, 'PENDING_APPROVAL', 'APPROVED'],
  ['PENDING_APPROVAL', { kind: 'approve', approvalsAfter: 2, required: 2 }, 'QUEUED', 'APPROVED'],
  ['PENDING_APPROVAL', { kind: 'invalidate-approvals' }, 'PENDING_APPROVAL', 'APPROVALS_INVALIDATED'],
  ['QUEUED', { kind: 'invalidate-approvals' }, 'PENDING_APPROVAL', 'APPROVALS_INVALIDATED'],
  ['PENDING_APPROVAL', { kind: 'reject' }, 'REJECTED', 'REJECTED'],
  ['PENDING_APPROVAL', { kind: 'expire' }, 'EXPIRED', 'EXPIRED'],
  ['QUEUED', { kind: 'wait' }, 'WAITING', 'WAITING'],
  ['WAITING', { kind: 'wait' }, 'WAITING', 'WAITING'],
  ['QUEUED', { kind: 'start' }, 'RUNNING', 'STARTED'],
  ['WAITING', { kind: 'start' }, 'RUNNING', 'STARTED'],
  ['RUNNING', { kind: 'step-started' }, 'RUNNING', 'STEP_STARTED'],
  ['RUNNING', { kind: 'step-progress' }, 'RUNNING', 'STEP_PROGRESS'],
  ['RUNNING', { kind: 'step-succeeded' }, 'RUNNING', 'STEP_SUCCEEDED'],
  ['RUNNING', { kind: 'step-failed' }, 'RUNNING', 'STEP_FAILED'],
  ['RUNNING', { kind: 'succeed' }, 'SUCCEEDED', 'SUCCEEDED'],
  ['RUNNING', { kind: 'fail' }, 'FAILED', 'FAILED'],
  ['QUEUED', { kind: 'fail' }, 'FAILED', 'FAILED'],
  ['WAITING', { kind: 'fail' }, 'FAILED', 'FAILED'],
  ['PENDING_APPROVAL', { kind: 'fail' }, 'FAILED', 'FAILED'],
  ...(['QUEUED', 'PENDING_APPROVAL', 'WAITING', 'RUNNING'] as const).flatMap(
    (s) =>
      [
        [s, { kind: 'cancel' }, 'CANCELLED', 'CANCELLED'],
        [s, { kind: 'log' }, s, 'LOG'],
      ] as [DeploymentStatus, Happening, DeploymentStatus, string][],
  ),
];

const HAPPENINGS: Happening[] = [
  { kind: 'request-approval' },
  { kind: 'approve', approvalsAfter: 1, required: 1 },
  { kind: 'invalidate-approvals' },
  { kind: 'reject' },
  { kind: 'expire' },
  { kind: 'wait' },
  { kind: 'start' },
  { kind: 'step-started' },
  { kind: 'step-progress' },
  { kind: 'step-succeeded' },
  { kind: 'step-failed' },
  { kind: 'log' },
  { kind: 'succeed' },
  { kind: 'fail' },
  { kind: 'cancel' },
];

describe('deployment state machine', () => {
  it.each(LEGAL)('%s + %o → %s (%s)', (from, happening, to, event) => {
    expect(transition(from, happening)).toEqual({ status: to, event });
  });

  it('refuses every transition not in the table', () => {
    let refused = 0;
    for (const from of ALL) {
      for (const h of HAPPENINGS) {
        const legal = LEGAL.some(([f, lh]) => f === from && lh.kind === h.kind);
        if (legal) continue;
        expect(() => transition(from, h), `${from} + ${h.kind}`).toThrow(IllegalTransition);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(80);
  });

  it('has no way out of a terminal status', () => {
    for (const from of ALL.filter(isTerminal)) {
      for (const h of HAPPENINGS) expect(() => transition(from, h)).toThrow(IllegalTransition);
    }
  });

  it('says what was refused in words', () => {
    expect(() => transition('SUCCEEDED', { kind: 'cancel' })).toThrow('A deployment that is SUCCEEDED cannot cancel');
  });
});
