// Post-deploy verification (contract v2, "Verification and automatic rollback"): the defaults,
// the bounds, and how one probe moves the counters. Pure, so the activity that probes, the
// service that records and the tests share one definition.
import type { VerificationConfig, VerificationRecord } from './types.ts';

export const VERIFICATION_DEFAULTS = {
  expectStatus: 200,
  intervalSeconds: 5,
  successThreshold: 3,
  failureThreshold: 3,
  timeoutSeconds: 300,
} as const;

/** Inclusive bounds of each field (BAD_USER_INPUT outside them). */
export const VERIFICATION_BOUNDS = {
  expectStatus: [100, 599],
  // Sub-second intervals would hammer the target; ten minutes between probes is no longer a check.
  intervalSeconds: [0.5, 600],
  successThreshold: [1, 100],
  failureThreshold: [1, 100],
  // The probe activity's start-to-close timeout (2 hours) must outlast the longest verification.
  timeoutSeconds: [1, 3600],
} as const;

/** Who requests an automatic rollback (Deployment.requestedBy). */
export const AUTO_ROLLBACK_REQUESTER = 'stageplane:auto-rollback';

/** The record a deployment starts with: PENDING when there is something to verify, else SKIPPED. */
export function pinnedVerification(config: VerificationConfig | null | undefined, autoRollback: boolean | undefined): VerificationRecord {
  return {
    config: config ?? null,
    autoRollback: autoRollback ?? false,
    status: config ? 'PENDING' : 'SKIPPED',
    probes: 0,
    successes: 0,
    failures: 0,
    lastStatusCode: null,
    lastError: null,
    startedAt: null,
    finishedAt: null,
  };
}

/** How a verification ended, as the deployment's workflow needs it. */
export interface VerificationVerdict {
  passed: boolean;
  message: string | null;
  /** The pinned policy.autoRollback. */
  autoRollback: boolean;
}

/** One probe's result: the status code answered, or the error that stood in for an answer. */
export type ProbeResult = { statusCode: number } | { error: string };

/** The counters after one more probe; `verdict` once a threshold is reached. */
export function afterProbe(
  record: Pick<VerificationRecord, 'probes' | 'successes' | 'failures'>,
  config: VerificationConfig,
  result: ProbeResult,
): {
  probes: number;
  successes: number;
  failures: number;
  lastStatusCode: number | null;
  lastError: string | null;
  verdict: 'PASSED' | 'FAILED' | null;
} {
  const passed = 'statusCode' in result && result.statusCode === config.expectStatus;
  const successes = passed ? record.successes + 1 : 0;
  const failures = passed ? 0 : record.failures + 1;
  return {
    probes: record.probes + 1,
    successes,
    failures,
    lastStatusCode: 'statusCode' in result ? result.statusCode : null,
    lastError: passed ? null : 'statusCode' in result ? `HTTP ${result.statusCode} (expected ${config.expectStatus})` : result.error,
    verdict: successes >= config.successThreshold ? 'PASSED' : failures >= config.failureThreshold ? 'FAILED' : null,
  };
}

/**
 * A network error as the short text `lastError` keeps: its kind, never its message (which may
 * quote what the server sent) and never a body.
 */
export function probeErrorText(code: string | undefined, name: string | undefined): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ETIMEDOUT':
    case 'ABORT_ERR':
      return 'timeout';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'name not resolved';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_STATUS':
      return 'invalid HTTP response';
  }
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT')) return `TLS error (${code})`;
  if (name === 'AbortError' || name === 'TimeoutError') return 'timeout';
  return code ? `request failed (${code})` : 'request failed';
}
