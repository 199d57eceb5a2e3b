// The committed schema snapshot (schema/schema.graphql) is what clients and the contract check
// read; it must be exactly what the code builds, and hold the whole public contract.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../schema/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe('schema snapshot', () => {
  it('is up to date (run `npm run schema:print` after changing schema/*.ts)', () => {
    const committed = readFileSync(join(ROOT, 'schema', 'schema.graphql'), 'utf8');
    expect(committed.slice(committed.indexOf('\n\n') + 2).trim()).toBe(printSchema(schema).trim());
  });

  // The contract as copied into the repository (docs/contract/SOURCE.md), so this runs on any clone.
  const contractPath = join(ROOT, 'docs', 'contract', 'schema.graphql');
  it('contains every type, field, argument and enum value of the contract', () => {
    const contract = buildSchema(readFileSync(contractPath, 'utf8'));
    const problems: string[] = [];
    for (const type of Object.values(contract.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      const ours = schema.getType(type.name);
      if (!ours) {
        problems.push(`missing type ${type.name}`);
        continue;
      }
      if ('getFields' in type && 'getFields' in ours) {
        const fields = (ours as typeof type).getFields() as Record<string, { type: unknown; args?: { name: string; type: unknown }[] }>;
        for (const [name, field] of Object.entries(
          type.getFields() as Record<string, { type: unknown; args?: { name: string; type: unknown }[] }>,
        )) {
          const mine = fields[name];
          if (!mine) problems.push(`${type.name}.${name} missing`);
          else if (String(mine.type) !== String(field.type))
            problems.push(`${type.name}.${name}: ${String(mine.type)} vs ${String(field.type)}`);
          for (const arg of field.args ?? []) {
            const a = mine?.args?.find((x) => x.name === arg.name);
            if (!a) problems.push(`${type.name}.${name}(${arg.name}) missing`);
            else if (String(a.type) !== String(arg.type))
              problems.push(`${type.name}.${name}(${arg.name}): ${String(a.type)} vs ${String(arg.type)}`);
          }
        }
      }
      if ('getValues' in type && 'getValues' in ours) {
        const values = new Set((ours as typeof type).getValues().map((v) => v.name));
        for (const v of type.getValues()) if (!values.has(v.name)) problems.push(`${type.name}.${v.name} missing`);
      }
    }
    expect(problems).toEqual([]);
  });

  // The original lives beside the checkout; compared only where it is present.
  const SHARED_CONTRACT = join(ROOT, '..', 'shared', 'contract');
  const CONTRACT_FILES = ['schema.graphql', 'schema-v2.graphql', 'README.md'];
  it.skipIf(!existsSync(SHARED_CONTRACT))('docs/contract/ is an unmodified copy of ../shared/contract/', () => {
    for (const file of CONTRACT_FILES) {
      expect(readFileSync(join(ROOT, 'docs', 'contract', file), 'utf8'), `docs/contract/${file}`).toBe(
        readFileSync(join(SHARED_CONTRACT, file), 'utf8'),
      );
    }
  });
});
