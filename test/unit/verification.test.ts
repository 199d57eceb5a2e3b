// The pure rules of post-deploy verification (domain/verification.ts) and its input schema.
import { describe, expect, it } from 'vitest';
import { DeployTargetInputSchema, VerificationInputSchema } from '../../domain/validation.ts';
import { afterProbe, pinnedVerification, probeErrorText } from '../../domain/verification.ts';

const config = { url: 'http://t/', expectStatus: 200, intervalSeconds: 1, successThreshold: 3, failureThreshold: 2, timeoutSeconds: 60 };

describe('afterProbe', () => {
  const run = (results: ({ statusCode: number } | { error: string })[]) => {
    let r = { probes: 0, successes: 0, failures: 0 };
    const verdicts = [];
    for (const result of results) {
      const next = afterProbe(r, config, result);
      r = next;
      verdicts.push(next.verdict);
    }
    return { r, verdicts };
  };

  it('passes on successThreshold consecutive expected answers; a failure in between starts the count again', () => {
    const { r, verdicts } = run([
      { statusCode: 200 },
      { statusCode: 200 },
      { statusCode: 500 },
      { statusCode: 200 },
      { statusCode: 200 },
      { statusCode: 200 },
    ]);
    expect(verdicts).toEqual([null, null, null, null, null, 'PASSED']);
    expect(r.probes).toBe(6);
  });

  it('fails on failureThreshold consecutive failures, errors included, with the last one as lastError', () => {
    const first = afterProbe({ probes: 0, successes: 2, failures: 0 }, config, { statusCode: 503 });
    expect(first).toMatchObject({ successes: 0, failures: 1, lastStatusCode: 503, lastError: 'HTTP 503 (expected 200)', verdict: null });
    const second = afterProbe(first, config, { error: 'connection refused' });
    expect(second).toMatchObject({ failures: 2, lastStatusCode: null, lastError: 'connection refused', verdict: 'FAILED' });
  });

  it('counts only expectStatus as a pass (a redirect or another 2xx is a failure)', () => {
    expect(afterProbe({ probes: 0, successes: 0, failures: 0 }, config, { statusCode: 302 }).lastError).toBe('HTTP 302 (expected 200)');
    expect(afterProbe({ probes: 0, successes: 0, failures: 0 }, { ...config, expectStatus: 204 }, { statusCode: 200 }).failures).toBe(1);
  });
});

describe('probeErrorText', () => {
  it('names the kind of failure, never a message', () => {
    expect(probeErrorText('ECONNREFUSED', 'Error')).toBe('connection refused');
    expect(probeErrorText('ETIMEDOUT', 'Error')).toBe('timeout');
    expect(probeErrorText(undefined, 'AbortError')).toBe('timeout');
    expect(probeErrorText('ERR_TLS_CERT_ALTNAME_INVALID', 'Error')).toBe('TLS error (ERR_TLS_CERT_ALTNAME_INVALID)');
    expect(probeErrorText(undefined, 'Error')).toBe('request failed');
  });
});

describe('VerificationInput', () => {
  it('fills the defaults, keeps what is given', () => {
    expect(VerificationInputSchema.parse({ url: 'https://app.example/health', failureThreshold: 5 })).toEqual({
      url: 'https://app.example/health',
      expectStatus: 200,
      intervalSeconds: 5,
      successThreshold: 3,
      failureThreshold: 5,
      timeoutSeconds: 300,
    });
  });

  it.each([
    ['expectStatus', 600],
    ['intervalSeconds', 0.49],
    ['intervalSeconds', 601],
    ['successThreshold', 0],
    ['failureThreshold', 2.5],
    ['timeoutSeconds', 0],
    ['timeoutSeconds', 3601],
  ])('refuses %s = %s', (field, value) => {
    expect(VerificationInputSchema.safeParse({ url: 'https://a.example/', [field]: value }).success).toBe(false);
  });

  it('refuses a URL that is not http(s) or carries credentials', () => {
    expect(VerificationInputSchema.safeParse({ url: 'file:///etc/passwd' }).success).toBe(false);
    expect(VerificationInputSchema.safeParse({ url: 'https://u:p@a.example/' }).success).toBe(false);
  });

  it('belongs to either provider; a target without one keeps its v1 shape', () => {
    const v = { url: 'https://a.example/' };
    expect(DeployTargetInputSchema.parse({ provider: 'WEBHOOK', url: 'https://h.example/', verification: v }).verification?.url).toBe(
      v.url,
    );
    expect(DeployTargetInputSchema.parse({ provider: 'SIMULATED', verification: v }).verification?.url).toBe(v.url);
    expect(DeployTargetInputSchema.parse({ provider: 'SIMULATED' })).toEqual({ provider: 'SIMULATED', url: null, stepSeconds: 1 });
  });

  it('pins PENDING with a config and SKIPPED without one', () => {
    expect(pinnedVerification(config, true)).toMatchObject({ status: 'PENDING', autoRollback: true, probes: 0 });
    expect(pinnedVerification(undefined, undefined)).toMatchObject({ status: 'SKIPPED', autoRollback: false, config: null });
  });
});
