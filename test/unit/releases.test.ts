import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../domain/defaults.ts';
import { branchMatches, defaultVersion, pushTriggers } from '../../domain/releases.ts';
import { buildSnapshot, canonicalJson, sameConfiguration } from '../../domain/snapshot.ts';
import { defaultSettings } from '../../domain/defaults.ts';

describe('branch patterns', () => {
  it.each([
    ['main', 'main', true],
    ['main', 'main2', false],
    ['feature/*', 'feature/login', true],
    ['feature/*', 'feature/a/b', false],
    ['release/**', 'release/2026/11', true],
    ['v?', 'v1', true],
    ['v?', 'v10', false],
    ['hotfix.1', 'hotfixx1', false],
  ])('%s matches %s: %s', (pattern, branch, expected) => {
    expect(branchMatches(pattern, branch)).toBe(expected);
  });

  it('starts pushes only in AUTO_ON_PUSH environments that are neither frozen nor archived', () => {
    const dev = { policy: defaultPolicy('DEVELOPMENT'), frozen: false, archivedAt: null };
    expect(pushTriggers(dev, 'main')).toBe(true);
    expect(pushTriggers(dev, 'feature/x')).toBe(false);
    expect(pushTriggers({ ...dev, frozen: true }, 'main')).toBe(false);
    expect(pushTriggers({ ...dev, archivedAt: new Date() }, 'main')).toBe(false);
    expect(pushTriggers({ ...dev, policy: defaultPolicy('STAGING') }, 'main')).toBe(false);
  });

  it('versions a release by its short sha', () => {
    expect(defaultVersion('abcdef0123456789')).toBe('abcdef0');
  });
});

describe('snapshots', () => {
  it('writes canonical JSON with sorted keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
  });

  it('digests everything it pins, and tells configuration changes from mere retaking', () => {
    const content = { settingsVersion: 1, settings: defaultSettings('PRODUCTION'), databases: {}, secretVersions: { A: 'v1' } };
    const a = buildSnapshot(content, new Date('2026-01-01T00:00:00Z'));
    const b = buildSnapshot(content, new Date('2026-01-02T00:00:00Z'));
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(a.digest).not.toBe(b.digest);
    expect(sameConfiguration(a, b)).toBe(true);
    expect(sameConfiguration(a, { ...content, secretVersions: { A: 'v2' } })).toBe(false);
    expect(sameConfiguration(a, { ...content, settings: { ...content.settings, readReplicas: 5 } })).toBe(false);
  });
});
