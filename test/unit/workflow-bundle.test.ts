// The workflow bundle kept in DATA_DIR/cache between starts (workflows/worker.ts): reused while
// its key holds, rebuilt when it is unreadable, older bundles removed.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleKey, cachedBundle } from '../../workflows/worker.ts';

const dir = mkdtempSync(join(tmpdir(), 'stageplane-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the cached workflow bundle', () => {
  it('is built once, then read back while the key holds; a stale or broken file is replaced', async () => {
    writeFileSync(join(dir, 'workflow-bundle-0000000000000000.json'), '{"code":"old","sourceMap":""}');
    const file = join(dir, `workflow-bundle-${bundleKey()}.json`);
    const built = await cachedBundle(dir);
    expect(built.code).toContain('deploymentWorkflow');
    expect(readdirSync(dir)).toEqual([`workflow-bundle-${bundleKey()}.json`]); // the stale one is gone

    const again = await cachedBundle(dir);
    expect(again.code).toBe(built.code);
    // What is in the file is what a start uses (so it is read, not rebuilt).
    writeFileSync(file, JSON.stringify({ code: 'marker', sourceMap: '' }));
    expect((await cachedBundle(dir)).code).toBe('marker');

    writeFileSync(file, '{"code": 42');
    const rebuilt = await cachedBundle(dir);
    expect(rebuilt.code).toBe(built.code);
    expect(JSON.parse(readFileSync(file, 'utf8')).code).toBe(built.code);
  }, 60_000);

  it('has its own key and the OpenTelemetry workflow interceptors in the tracing variant', async () => {
    expect(bundleKey(undefined, { tracing: true })).not.toBe(bundleKey());
    const traced = await cachedBundle(dir, undefined, { tracing: true });
    expect(traced.code).toContain('OpenTelemetryInboundInterceptor');
    expect((await cachedBundle(dir)).code).not.toContain('OpenTelemetryInboundInterceptor');
  }, 60_000);

  it('changes its key with the workflow sources', () => {
    const root = mkdtempSync(join(tmpdir(), 'stageplane-bundle-root-'));
    try {
      for (const d of ['workflows', 'domain', 'node_modules/@temporalio/workflow']) expect(existsSync(join(root, d))).toBe(false);
      for (const d of ['workflows', 'domain', 'node_modules/@temporalio/workflow']) mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, 'node_modules/@temporalio/workflow/package.json'), '{"version":"1.0.0"}');
      writeFileSync(join(root, 'workflows', 'a.workflow.ts'), 'export const a = 1;');
      writeFileSync(join(root, 'domain', 'rule.ts'), 'export const r = 1;');
      const first = bundleKey(root);
      expect(bundleKey(root)).toBe(first);
      writeFileSync(join(root, 'domain', 'rule.ts'), 'export const r = 2;');
      const second = bundleKey(root);
      expect(second).not.toBe(first);
      writeFileSync(join(root, 'node_modules/@temporalio/workflow/package.json'), '{"version":"1.0.1"}');
      expect(bundleKey(root)).not.toBe(second);
      // The tracing variant compiles other code in: another key, which follows those packages' versions.
      expect(() => bundleKey(root, { tracing: true })).toThrow(/interceptors-opentelemetry/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
