// The CLI's operations are typed from the schema snapshot, never from a copy of it: every document
// validates against schema/schema.graphql, and cli/graphql-env.d.ts (the types gql.tada infers
// from) is exactly what `npm run cli:types` makes of the snapshot. A schema change that breaks an
// operation fails here, and `npm run typecheck` fails on the code that uses a changed field.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSchema, parse, print, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ALL_OPERATIONS } from '../../cli/operations.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const snapshot = () => buildSchema(readFileSync(join(ROOT, 'schema', 'schema.graphql'), 'utf8'));

describe('cli operations', () => {
  it('every operation validates against schema/schema.graphql', () => {
    const schema = snapshot();
    const problems: string[] = [];
    for (const [name, document] of Object.entries(ALL_OPERATIONS)) {
      const errors = validate(schema, parse(print(document)));
      for (const e of errors) problems.push(`${name}: ${e.message}`);
    }
    expect(problems).toEqual([]);
    expect(Object.keys(ALL_OPERATIONS).length).toBeGreaterThanOrEqual(19);
  });

  it('cli/graphql-env.d.ts is generated from the current snapshot (run `npm run cli:types`)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'stageplane-tada-')), 'graphql-env.d.ts');
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'gql.tada', 'bin', 'cli.js'),
        'generate-output',
        '--tsconfig',
        join(ROOT, 'cli', 'tsconfig.json'),
        '--output',
        out,
      ],
      {
        cwd: ROOT,
        stdio: 'pipe',
      },
    );
    expect(readFileSync(join(ROOT, 'cli', 'graphql-env.d.ts'), 'utf8')).toBe(readFileSync(out, 'utf8'));
  }, 60_000);

  it('cli/ sends no GraphQL outside cli/operations.ts', () => {
    for (const file of readdirSync(join(ROOT, 'cli')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'operations.ts')) {
      const source = readFileSync(join(ROOT, 'cli', file), 'utf8');
      expect(source, file).not.toMatch(/graphql\(\s*`/);
      expect(source, file).not.toMatch(/\b(query|mutation|subscription)\s*[A-Za-z]*\s*(\(|\{)\s*\$?[a-z]/);
    }
  });
});
