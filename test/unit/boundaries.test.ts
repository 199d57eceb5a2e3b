// The layer boundaries of ARCHITECTURE.md, enforced: every source file's relative imports are read
// (with the TypeScript parser, so comments and strings never count) and checked against the table
// between `<!-- boundaries:begin -->` and `<!-- boundaries:end -->`, which is this test's only data.
// The checker is a pure function (files in memory + parsed table → violations); the loader reads
// the real tree. A second test feeds the checker synthetic files to prove it can fail.
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ---------------------------------------------------------------------------------------------
// The table

type PatternKind = 'file' | 'glob' | 'folder';
interface Pattern {
  text: string;
  kind: PatternKind;
  test: (path: string) => boolean;
}
interface Allowed {
  pattern: Pattern;
  typesOnly: boolean;
}
interface Row {
  index: number;
  label: string; // the first cell, as written
  patterns: Pattern[];
  allowedText: string; // the third cell, as written
  everything: boolean;
  allowed: Allowed[];
  // "except `schema/`": targets never allowed from this row, even when another rule would allow them…
  denied: Pattern[];
  // …"which only `server/yoga.ts` imports, through `schema/index.ts`": unless importer and target match.
  exceptions: { importer: Pattern; target: Pattern }[];
}
export interface Table {
  rows: Row[];
}

function pattern(text: string): Pattern {
  if (text.endsWith('/')) return { text, kind: 'folder', test: (path) => path.startsWith(text) };
  if (text.includes('*')) {
    const source = text
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*');
    const regex = new RegExp(`^${source}$`);
    return { text, kind: 'glob', test: (path) => regex.test(path) };
  }
  return { text, kind: 'file', test: (path) => path === text };
}

const BACKTICKED = /`([^`]+)`/g;

function backticked(cell: string): string[] {
  return [...cell.matchAll(BACKTICKED)].map((m) => m[1]!);
}

/** Fails loudly on any wording it does not understand, so a reworded table cannot pass vacuously. */
function parseAllowed(cell: string, above: Row[]): Pick<Row, 'everything' | 'allowed' | 'denied' | 'exceptions'> {
  const text = cell.replace(/\s+/g, ' ').trim();
  if (text === 'everything') return { everything: true, allowed: [], denied: [], exceptions: [] };
  const everythingAbove = /^everything above(?: except `([^`]+)`(?:, which only `([^`]+)` imports, through `([^`]+)`)?)?$/.exec(text);
  if (everythingAbove) {
    const [, except, onlyImporter, through] = everythingAbove;
    return {
      everything: false,
      allowed: above.flatMap((row) => row.patterns.map((p) => ({ pattern: p, typesOnly: false }))),
      denied: except ? [pattern(except)] : [],
      exceptions: onlyImporter && through ? [{ importer: pattern(onlyImporter), target: pattern(through) }] : [],
    };
  }
  if (text.startsWith('everything')) throw new Error(`boundaries table: cannot read the rule "${text}"`);
  const allowed: Allowed[] = [];
  const leftover = text.replace(/`([^`]+)`(\s*\(types only\))?/g, (_, target: string, typesOnly?: string) => {
    allowed.push({ pattern: pattern(target), typesOnly: Boolean(typesOnly) });
    return '';
  });
  if (allowed.length === 0 || leftover.replace(/,|\band\b/g, '').trim() !== '') {
    throw new Error(`boundaries table: cannot read the rule "${text}"`);
  }
  return { everything: false, allowed, denied: [], exceptions: [] };
}

export function parseTable(markdown: string): Table {
  const begin = markdown.indexOf('<!-- boundaries:begin -->');
  const end = markdown.indexOf('<!-- boundaries:end -->');
  if (begin < 0 || end < begin) throw new Error('boundaries table: markers not found in ARCHITECTURE.md');
  const lines = markdown
    .slice(begin, end)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('|'));
  const rows: Row[] = [];
  const seen = new Set<string>();
  // lines[0] is the header, lines[1] the |---| separator.
  for (const line of lines.slice(2)) {
    const cells = line
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((cell) => cell.trim());
    if (cells.length !== 3) throw new Error(`boundaries table: expected 3 cells in ${line}`);
    const [first, , third] = cells as [string, string, string];
    const names = backticked(first);
    if (
      names.length === 0 ||
      first
        .replace(BACKTICKED, '')
        .replace(/,|\band\b/g, '')
        .trim() !== ''
    ) {
      throw new Error(`boundaries table: cannot read the layer cell "${first}"`);
    }
    for (const name of names) {
      if (seen.has(name)) throw new Error(`boundaries table: ${name} appears in two rows`);
      seen.add(name);
    }
    rows.push({ index: rows.length, label: first, patterns: names.map(pattern), allowedText: third, ...parseAllowed(third, rows) });
  }
  return { rows };
}

const RANK: Record<PatternKind, number> = { file: 3, glob: 2, folder: 1 };

/**
 * The row a path belongs to. The table is NOT ordered most-specific-first (`services/` sits between
 * `workflows/definitions.ts` and `workflows/`, and nothing stops a future row order from putting a
 * folder before its files), so instead of "first matching row" the most specific matching pattern
 * wins: an exact file beats a glob, a glob beats a folder, and between two of the same kind the
 * longer pattern (the deeper folder) wins.
 */
export function rowOf(table: Table, path: string): Row | undefined {
  let best: { row: Row; score: [number, number] } | undefined;
  for (const row of table.rows) {
    for (const p of row.patterns) {
      if (!p.test(path)) continue;
      const score: [number, number] = [RANK[p.kind], p.text.length];
      if (!best || score[0] > best.score[0] || (score[0] === best.score[0] && score[1] > best.score[1])) best = { row, score };
    }
  }
  return best?.row;
}

// ---------------------------------------------------------------------------------------------
// Imports

export interface Import {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

/**
 * Static `import … from`, `import '…'`, `import type`, `export … from`, `export type … from`,
 * `import x = require('…')`, dynamic `import('…')` with a string literal, and `typeof import('…')`
 * in type positions (type-only). `import { type A }` is NOT type-only: under verbatimModuleSyntax
 * it still emits `import '…'`, which loads the module at run time.
 */
export function importsOf(path: string, source: string): Import[] {
  const kind = path.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const file = ts.createSourceFile(path, source, ts.ScriptTarget.Latest, true, kind);
  const found: Import[] = [];
  const add = (node: ts.Node, literal: ts.Node | undefined, typeOnly: boolean) => {
    if (!literal || !(ts.isStringLiteral(literal) || ts.isNoSubstitutionTemplateLiteral(literal))) return;
    const line = file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
    found.push({ specifier: literal.text, typeOnly, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    else if (ts.isExportDeclaration(node)) add(node, node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0], false);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal, true);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

// ---------------------------------------------------------------------------------------------
// The checker

export interface SourceFile {
  path: string; // repository-relative, forward slashes
  source: string;
}
export interface Violation {
  importer: string;
  target: string;
  message: string;
}

function resolveTarget(importer: string, specifier: string, known: Set<string>): string {
  const joined = posix.normalize(posix.join(posix.dirname(importer), specifier)).replace(/\/$/, '');
  const candidates = [
    joined,
    joined.replace(/\.(m?)js$/, '.$1ts'),
    joined.replace(/\.js$/, '.tsx'),
    `${joined}.ts`,
    `${joined}.tsx`,
    `${joined}/index.ts`,
    `${joined}/index.tsx`,
  ];
  return candidates.find((candidate) => known.has(candidate)) ?? joined;
}

/** Why `importer` (in `row`) may not import `target`, or undefined when it may. */
function refusal(table: Table, row: Row, importer: string, target: string, typeOnly: boolean): string | undefined {
  if (target.startsWith('../') || target === '..') return row.everything ? undefined : 'outside the repository';
  if (row.everything) return undefined;
  if (row.exceptions.some((e) => e.importer.test(importer) && e.target.test(target))) return undefined;
  const denied = row.denied.find((d) => d.test(target));
  if (denied) {
    const exception = row.exceptions.map((e) => `only ${e.importer.text} may, through ${e.target.text}`).join('; ');
    return `${denied.text} is excepted${exception ? ` (${exception})` : ''}`;
  }
  if (rowOf(table, target) === row) return undefined; // a layer may always import itself
  let typesOnly: Allowed | undefined;
  for (const allowed of row.allowed) {
    if (!allowed.pattern.test(target)) continue;
    if (!allowed.typesOnly || typeOnly) return undefined;
    typesOnly = allowed;
  }
  if (typesOnly) return `${typesOnly.pattern.text} is allowed for \`import type\` / \`export type\` only`;
  return rowOf(table, target) ? 'not an allowed target' : 'not an allowed target (in no row of the table)';
}

export function checkBoundaries(files: SourceFile[], table: Table): Violation[] {
  const known = new Set(files.map((f) => f.path));
  const violations: Violation[] = [];
  for (const file of files) {
    const row = rowOf(table, file.path);
    if (!row) {
      violations.push({ importer: file.path, target: '(none)', message: `${file.path} belongs to no row of the table` });
      continue;
    }
    for (const imp of importsOf(file.path, file.source)) {
      if (!imp.specifier.startsWith('./') && !imp.specifier.startsWith('../')) continue; // npm packages, node: builtins
      const target = resolveTarget(file.path, imp.specifier, known);
      const why = refusal(table, row, file.path, target, imp.typeOnly);
      if (why === undefined) continue;
      violations.push({
        importer: file.path,
        target,
        message: `${file.path} -> ${target} (row ${row.label}: allowed ${row.allowedText}) [line ${imp.line}${imp.typeOnly ? ', type-only' : ''}: ${why}]`,
      });
    }
  }
  return violations;
}

// ---------------------------------------------------------------------------------------------
// The loader

// Top-level folders that are not layers.
const NOT_SOURCE_FOLDERS = new Set(['test', 'docs', 'node_modules', '.git', '.ci']);

function isSkipped(path: string): boolean {
  const segments = path.split('/');
  return (
    segments.includes('node_modules') ||
    segments.includes('dist') ||
    segments[0] === 'test' ||
    path.startsWith('db/migrations/') ||
    path.endsWith('.d.ts')
  );
}

function walk(folder: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(posix.join(ROOT, folder), { withFileTypes: true })) {
    const path = `${folder}/${entry.name}`;
    if (isSkipped(`${path}${entry.isDirectory() ? '/' : ''}`)) continue;
    if (entry.isDirectory()) out.push(...walk(path));
    else if (/\.tsx?$/.test(entry.name)) out.push(path);
  }
  return out;
}

export function loadTable(): Table {
  return parseTable(readFileSync(posix.join(ROOT, 'ARCHITECTURE.md'), 'utf8'));
}

/** Every .ts/.tsx under the top-level folders named in the table. */
export function loadSources(table: Table): SourceFile[] {
  const folders = [...new Set(table.rows.flatMap((row) => row.patterns.map((p) => p.text.split('/')[0]!)))];
  return folders
    .flatMap((folder) => walk(folder))
    .sort()
    .map((path) => ({ path, source: readFileSync(posix.join(ROOT, path), 'utf8') }));
}

// ---------------------------------------------------------------------------------------------

describe('layer boundaries (ARCHITECTURE.md)', () => {
  const table = loadTable();

  it('parses the table into its layers', () => {
    const names = table.rows.flatMap((row) => row.patterns.map((p) => p.text));
    for (const layer of [
      'domain/',
      'config/',
      'db/',
      'secrets/',
      'live/',
      'services/',
      'workflows/',
      'schema/',
      'server/',
      'cli/',
      'console/',
    ]) {
      expect(names).toContain(layer);
    }
    // Most specific pattern wins, whatever the row order.
    expect(rowOf(table, 'workflows/deployment.workflow.ts')?.label).toBe('`workflows/*.workflow.ts`');
    expect(rowOf(table, 'workflows/definitions.ts')?.label).toBe('`workflows/definitions.ts`');
    expect(rowOf(table, 'workflows/activities/deployment.ts')?.label).toBe('`workflows/`');
    expect(rowOf(table, 'workflows/client.ts')?.label).toBe('`workflows/`');
    expect(rowOf(table, 'services/deployments.ts')?.label).toBe('`services/`');
  });

  it('refuses a table it cannot read rather than passing vacuously', () => {
    const wrap = (rows: string) =>
      `<!-- boundaries:begin -->\n| layer | what | may import |\n|---|---|---|\n${rows}\n<!-- boundaries:end -->`;
    expect(() => parseTable('no markers here')).toThrow(/markers/);
    expect(() => parseTable(wrap('| `domain/` | x | most things |'))).toThrow(/cannot read/);
    expect(() => parseTable(wrap('| `domain/` | x | `domain/`, maybe `db/` |'))).toThrow(/cannot read/);
    expect(() => parseTable(wrap('| `domain/` | x | `domain/` |\n| `domain/` | y | `domain/` |'))).toThrow(/two rows/);
  });

  it('covers every top-level source folder', () => {
    const folders = readdirSync(ROOT, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !NOT_SOURCE_FOLDERS.has(entry.name))
      .map((entry) => entry.name)
      .filter((folder) => walk(folder).length > 0);
    expect(folders.length).toBeGreaterThan(10);
    const uncovered = folders.flatMap((folder) => walk(folder)).filter((path) => !rowOf(table, path));
    expect(uncovered, `source files in no row of the table:\n${uncovered.join('\n')}`).toEqual([]);
  });

  it('no source file imports against the table', () => {
    const files = loadSources(table);
    expect(files.length).toBeGreaterThan(100);
    const violations = checkBoundaries(files, table);
    if (violations.length > 0) console.log(`${violations.length} boundary violation(s):\n${violations.map((v) => v.message).join('\n')}`);
    expect(violations.map((v) => v.message)).toEqual([]);
  });

  it('reports forbidden directions and lets the allowed ones through (synthetic files)', () => {
    const files: SourceFile[] = [
      // forbidden
      {
        path: 'domain/x.ts',
        source: `import { createDatabase } from '../db/client.ts';\nimport { z } from 'zod';\nimport { readFileSync } from 'node:fs';\nimport { ok } from './y.ts';\n// import { no } from '../server/main.ts';\nconst s = "import('../server/main.ts')";`,
      },
      { path: 'domain/y.ts', source: `export * from '../config/index.ts';\nexport const ok = 1;` },
      { path: 'config/index.ts', source: `import '../server/main.ts';` },
      {
        path: 'server/http.ts',
        source: `import { builder } from '../schema/builder.ts';\nimport { schema } from '../schema/index.ts';\nimport { hub } from '../live/hub.ts';\nimport { start } from '../workflows/client.ts';\nimport { auth } from './auth.ts';`,
      },
      {
        path: 'server/yoga.ts',
        source: `import { schema } from '../schema/index.ts';\nimport type { Context } from '../schema/context.ts';\nimport { createService } from '../services/projects.ts';`,
      },
      { path: 'server/main.ts', source: `const { run } = await import('../cli/main.ts');` },
      { path: 'cli/a.ts', source: `import { verify } from '../server/auth.ts';\nimport { help } from './commands.ts';` },
      {
        path: 'console/src/a.tsx',
        source: `import type { Role } from '../../domain/types.ts';\nimport { App } from './App.tsx';\nexport const A = () => <App />;`,
      },
      {
        path: 'workflows/a.workflow.ts',
        source: `import { createDatabase } from '../db/client.ts';\nimport type { DeploymentActivities } from './activities/deployment.ts';\nexport type { DeploymentPlan } from './activities/deployment.ts';\ntype A = typeof import('./activities/rotation.ts');\nimport { signal } from './definitions.ts';\nimport { text } from '../domain/text.ts';\nimport { b } from './b.workflow.ts';`,
      },
      {
        path: 'workflows/b.workflow.ts',
        source: `import { run } from './activities/deployment.ts';\nimport { type RotationActivities } from './activities/rotation.ts';\nconst m = await import('../services/deployments.ts');\nexport const b = 1;`,
      },
      {
        path: 'workflows/definitions.ts',
        source: `import { createDatabase } from '../db/client.ts';\nimport type { Role } from '../domain/types.ts';`,
      },
      {
        path: 'workflows/activities/deployment.ts',
        source: `import { deploy } from '../../services/deployments.ts';\nimport { db } from '../../db/client.ts';`,
      },
      {
        path: 'workflows/client.ts',
        source: `import { signal } from './definitions.ts';\nimport type { A } from './deployment.workflow.ts';`,
      },
      {
        path: 'services/deployments.ts',
        source: `import { start } from '../workflows/client.ts';\nimport { signal } from '../workflows/definitions.ts';\nimport { worker } from '../workflows/worker.ts';\nimport { schema } from '../schema/index.ts';\nimport { hub } from '../live/hub.ts';`,
      },
      {
        path: 'scripts/tool.ts',
        source: `import { createTestDatabase } from '../test/support/database.ts';\nimport { schema } from '../schema/builder.ts';\nimport { run } from '../cli/main.ts';`,
      },
    ];
    const reported = checkBoundaries(files, table).map((v) => `${v.importer} -> ${v.target}`);
    expect(reported.sort()).toEqual(
      [
        'domain/x.ts -> db/client.ts',
        'domain/y.ts -> config/index.ts',
        'config/index.ts -> server/main.ts',
        'server/http.ts -> schema/builder.ts',
        'server/http.ts -> schema/index.ts', // only server/yoga.ts may
        'server/yoga.ts -> schema/context.ts', // …and only through schema/index.ts
        'server/main.ts -> cli/main.ts', // "everything above": cli/ is below server/
        'cli/a.ts -> server/auth.ts',
        'console/src/a.tsx -> domain/types.ts',
        'workflows/a.workflow.ts -> db/client.ts',
        'workflows/b.workflow.ts -> workflows/activities/deployment.ts', // a value import of activities
        'workflows/b.workflow.ts -> workflows/activities/rotation.ts', // `import { type X }` still loads it
        'workflows/b.workflow.ts -> services/deployments.ts',
        'workflows/definitions.ts -> db/client.ts', // its own row beats `workflows/`
        'services/deployments.ts -> workflows/worker.ts',
        'services/deployments.ts -> schema/index.ts',
      ].sort(),
    );
    // The messages carry the importer's row and what it allows.
    const message = checkBoundaries([files[0]!], table)[0]!.message;
    expect(message).toContain('domain/x.ts -> db/client.ts (row `domain/`: allowed `domain/`)');
  });
});
