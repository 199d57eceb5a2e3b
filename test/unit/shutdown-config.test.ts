// SHUTDOWN_DRAIN_SECONDS and SHUTDOWN_GRACE_SECONDS: defaults, fractions (tests use short
// drains), and a bad value stopping the start with a message naming the variable.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.ts';

const base = { JWT_SECRET: 'a-development-secret-of-at-least-32-characters', DATA_DIR: '/tmp/stageplane-shutdown-config' };

describe('shutdown configuration', () => {
  it('defaults to a 5 s drain and a 10 s grace period', () => {
    expect(loadConfig(base).shutdown).toEqual({ drainSeconds: 5, graceSeconds: 10 });
  });

  it('takes fractions and 0 (no drain: nothing routes on /readyz)', () => {
    expect(loadConfig({ ...base, SHUTDOWN_DRAIN_SECONDS: '1.5', SHUTDOWN_GRACE_SECONDS: '0' }).shutdown).toEqual({
      drainSeconds: 1.5,
      graceSeconds: 0,
    });
  });

  it.each([
    ['SHUTDOWN_DRAIN_SECONDS', 'soon'],
    ['SHUTDOWN_DRAIN_SECONDS', '-1'],
    ['SHUTDOWN_DRAIN_SECONDS', '301'],
    ['SHUTDOWN_GRACE_SECONDS', 'ten'],
    ['SHUTDOWN_GRACE_SECONDS', '-0.5'],
    ['SHUTDOWN_GRACE_SECONDS', '1000'],
  ])('%s=%s is refused, naming the variable', (name, value) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(new RegExp(`^Invalid ${name}: .*\\(got "${value}"\\)$`));
  });
});
