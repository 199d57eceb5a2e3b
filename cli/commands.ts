// The command line: every command's arguments, options, help and example, and the parser
// (node:util parseArgs, strict). Pure: no I/O, so unit tests can drive it.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_URL } from './client.ts';
import { UsageError } from './errors.ts';

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder of the value in help, e.g. "V". */
  value?: string;
  help: string;
  required?: boolean;
}

interface ArgumentSpec {
  name: string;
  help: string;
  /** The last argument may take one or more values. */
  variadic?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  description?: string;
  args: ArgumentSpec[];
  options: Record<string, OptionSpec>;
  /** Follows a deployment (always, or with --wait): takes --timeout. */
  follows?: 'always' | 'wait';
  examples: string[];
}

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: 'string', value: 'URL', help: `the Stageplane server (default: $STAGEPLANE_URL, else ${DEFAULT_URL})` },
  token: {
    type: 'string',
    value: 'TOKEN',
    help: 'bearer token (default: $STAGEPLANE_TOKEN; prefer the variable: arguments are visible to other users)',
  },
  json: { type: 'boolean', help: 'JSON on stdout (one event per line while following a deployment)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

const WAIT: OptionSpec = { type: 'boolean', help: 'follow the deployment like `watch` until it ends: exit 0 if it SUCCEEDED, 1 otherwise' };
const TIMEOUT: OptionSpec = {
  type: 'string',
  value: 'DURATION',
  help: 'while the server cannot be reached, keep reconnecting this long (seconds, or 90s, 10m, 1h; default 600)',
};

const PROJECT: ArgumentSpec = { name: 'project', help: 'project slug' };
const DEPLOYMENT: ArgumentSpec = {
  name: 'deployment',
  help: 'deployment id, as printed by push, deploy, promote, rollback or deployments',
};

export const COMMANDS: CommandSpec[] = [
  {
    name: 'projects',
    summary: 'list the projects',
    args: [],
    options: {},
    examples: ['stageplane projects', 'stageplane projects --json | jq -r ".[].slug"'],
  },
  {
    name: 'envs',
    summary: "list a project's environments in pipeline order",
    description: 'Type, upstream, current release, the latest active deployment, frozen and policy status.',
    args: [PROJECT],
    options: {},
    examples: ['stageplane envs shop'],
  },
  {
    name: 'deployments',
    summary: "list a project's deployments, newest first",
    args: [PROJECT],
    options: {
      env: { type: 'string', value: 'ENV', help: 'only this environment (slug)' },
      status: { type: 'string', value: 'S[,S...]', help: 'only these statuses, e.g. RUNNING,PENDING_APPROVAL' },
      first: { type: 'string', value: 'N', help: 'at most N deployments (default 20, at most 100)' },
    },
    examples: ['stageplane deployments shop --env production --status PENDING_APPROVAL'],
  },
  {
    name: 'config get',
    summary: "show an environment's settings",
    description: 'Without --json, one key=value a line: the keys and value syntax `config set` takes.',
    args: [PROJECT, { name: 'env', help: 'environment slug' }],
    options: {},
    examples: ['stageplane config get shop staging'],
  },
  {
    name: 'config set',
    summary: "change an environment's settings",
    description:
      'Keys as in EnvironmentSettings, dotted for nested ones (rateLimit.enabled, featureFlags.<flag>). Values are ' +
      "parsed by the field's type: enums (case-insensitive), booleans (true/false), integers, lists comma-separated " +
      '(corsOrigins=https://a.example,https://b.example; empty for none), an empty value clears an optional field. ' +
      'Sends the settings version it read as expectedVersion: if someone changed them meanwhile, nothing is written, ' +
      'it says who, and exits 4.',
    args: [PROJECT, { name: 'env', help: 'environment slug' }, { name: 'key=value', help: 'one or more settings', variadic: true }],
    options: {},
    examples: ['stageplane config set shop staging logLevel=warn rateLimit.enabled=true featureFlags.checkout=false'],
  },
  {
    name: 'diff',
    summary: 'what differs between two environments (settings, database values, which secrets are set)',
    args: [PROJECT, { name: 'base', help: 'environment slug' }, { name: 'target', help: 'environment slug' }],
    options: {},
    examples: ['stageplane diff shop staging production'],
  },
  {
    name: 'policy',
    summary: "an environment's best-practice checks",
    description: 'A failed check of severity error blocks deploy, promote and rollback into the environment.',
    args: [PROJECT, { name: 'env', help: 'environment slug' }],
    options: {},
    examples: ['stageplane policy shop production'],
  },
  {
    name: 'push',
    summary: 'record a push: the release, and a deployment in each environment that deploys the branch on push',
    args: [PROJECT],
    options: {
      branch: { type: 'string', value: 'B', help: 'branch pushed to', required: true },
      sha: { type: 'string', value: 'SHA', help: 'commit sha (7 to 40 hex digits)', required: true },
      message: { type: 'string', value: 'M', help: 'commit message' },
      author: { type: 'string', value: 'A', help: 'commit author' },
      version: { type: 'string', value: 'V', help: 'release version (default: the short sha)' },
      wait: { ...WAIT, help: 'follow the deployments it started until they end: exit 0 if all SUCCEEDED, 1 otherwise' },
      timeout: TIMEOUT,
    },
    follows: 'wait',
    examples: ['stageplane push shop --branch main --sha "$GITHUB_SHA" --message "$(git log -1 --format=%s)" --wait'],
  },
  {
    name: 'deploy',
    summary: 'deploy a release to an environment',
    args: [PROJECT, { name: 'env', help: 'environment slug' }],
    options: {
      release: { type: 'string', value: 'V', help: 'release version or commit sha', required: true },
      wait: WAIT,
      timeout: TIMEOUT,
    },
    follows: 'wait',
    examples: ['stageplane deploy shop development --release 4f2a9c1 --wait'],
  },
  {
    name: 'promote',
    summary: 'promote into an environment the release that succeeded upstream',
    description: "The release is the upstream environment's current one, unless --release names another that succeeded there.",
    args: [PROJECT, { name: 'env', help: 'target environment slug' }],
    options: {
      release: { type: 'string', value: 'V', help: 'release version or commit sha (default: upstream current)' },
      wait: WAIT,
      timeout: TIMEOUT,
    },
    follows: 'wait',
    examples: ['stageplane promote shop staging --wait'],
  },
  {
    name: 'rollback',
    summary: 'deploy an earlier release that succeeded in the environment',
    args: [PROJECT, { name: 'env', help: 'environment slug' }],
    options: {
      release: { type: 'string', value: 'V', help: 'release version or commit sha (default: the one before the current)' },
      wait: WAIT,
      timeout: TIMEOUT,
    },
    follows: 'wait',
    examples: ['stageplane rollback shop production --wait'],
  },
  {
    name: 'approve',
    summary: 'approve a deployment pending approval',
    args: [DEPLOYMENT],
    options: {
      comment: { type: 'string', value: 'C', help: 'a comment kept with the approval' },
      wait: WAIT,
      timeout: TIMEOUT,
    },
    follows: 'wait',
    examples: ['stageplane approve RGVwbG95bWVudDo... --comment "LGTM" --wait'],
  },
  {
    name: 'reject',
    summary: 'reject a deployment pending approval',
    args: [DEPLOYMENT],
    options: { comment: { type: 'string', value: 'C', help: 'why (required)', required: true } },
    examples: ['stageplane reject RGVwbG95bWVudDo... --comment "not during the sale"'],
  },
  {
    name: 'cancel',
    summary: 'cancel a deployment that has not ended',
    args: [DEPLOYMENT],
    options: {},
    examples: ['stageplane cancel RGVwbG95bWVudDo...'],
  },
  {
    name: 'members',
    summary: 'list who holds roles in a project (grants to subjects and groups)',
    args: [PROJECT],
    options: {},
    examples: ['stageplane members shop'],
  },
  {
    name: 'members grant',
    summary: 'grant roles in a project to a subject or a group (replaces what it held there)',
    description: 'ADMIN (global, or granted in the project).',
    args: [PROJECT],
    options: {
      subject: { type: 'string', value: 'SUB', help: "a token's sub (exactly one of --subject and --group)" },
      group: { type: 'string', value: 'G', help: 'an OIDC group' },
      roles: { type: 'string', value: 'R[,R...]', help: 'roles, e.g. DEVELOPER,QA', required: true },
    },
    examples: [
      'stageplane members grant shop --subject alice --roles DEVELOPER,QA',
      'stageplane members grant shop --group payments --roles APPROVER',
    ],
  },
  {
    name: 'members revoke',
    summary: "remove a subject's or a group's grant in a project",
    description: 'ADMIN (global, or granted in the project). Exit 0 when a grant was removed, 4 when there was none.',
    args: [PROJECT],
    options: {
      subject: { type: 'string', value: 'SUB', help: "a token's sub (exactly one of --subject and --group)" },
      group: { type: 'string', value: 'G', help: 'an OIDC group' },
    },
    examples: ['stageplane members revoke shop --subject alice'],
  },
  {
    name: 'visibility',
    summary: "set a project's visibility: INTERNAL (every role reads it) or PRIVATE (members and ADMINs only)",
    description: 'ADMIN (global, or granted in the project).',
    args: [PROJECT, { name: 'visibility', help: 'INTERNAL or PRIVATE' }],
    options: {},
    examples: ['stageplane visibility shop PRIVATE'],
  },
  {
    name: 'watch',
    summary: 'follow a deployment until it ends',
    description:
      'Prints each event once, in seq order. While the server cannot be reached it reconnects with backoff, for up to ' +
      '--timeout, and resumes after the last event it printed. Exit 0 if the deployment SUCCEEDED, 1 if it ended ' +
      'otherwise, 5 if the server stayed away longer than --timeout. Ctrl-C stops watching, never the deployment.',
    args: [DEPLOYMENT],
    options: {
      'after-seq': { type: 'string', value: 'N', help: 'start after this event (default 0: from the first)' },
      timeout: TIMEOUT,
    },
    follows: 'always',
    examples: ['stageplane watch RGVwbG95bWVudDo...', 'stageplane watch RGVwbG95bWVudDo... --json | jq -c "{seq, type, status}"'],
  },
];

export const commandNamed = (name: string) => COMMANDS.find((c) => c.name === name) ?? null;

export interface GlobalOptions {
  url: string;
  token: string | null;
  json: boolean;
  /** --timeout in milliseconds (commands that follow a deployment). */
  timeoutMs: number;
}

export type Parsed =
  | { kind: 'help'; command: CommandSpec | null }
  | { kind: 'version' }
  | {
      kind: 'run';
      command: CommandSpec;
      /** Arguments by name; a variadic one is a list. */
      args: Record<string, string | string[]>;
      options: Record<string, string | boolean | undefined>;
      global: GlobalOptions;
    };

const GLOBAL_VALUE_FLAGS = new Set(['--url', '--token']);

/** `600`, `90s`, `10m`, `1h` to milliseconds. */
export function parseDuration(text: string, flag = '--timeout'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} takes a duration such as 600, 90s, 10m or 1h, not ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  if (ms <= 0) throw new UsageError(`${flag} must be more than 0`);
  return ms;
}

/** A whole number of at least `min`. */
export function parseCount(text: string, flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag} takes a whole number, not ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}`);
  return n;
}

/**
 * Parses argv (without node and the script). Global options may come before or after the
 * command. Throws a UsageError for anything it cannot run.
 */
export function parseCommandLine(argv: string[], env: Record<string, string | undefined> = {}): Parsed {
  // Global options before the command word(s).
  const lead: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--' || !token.startsWith('-') || token === '-') break;
    lead.push(token);
    if (GLOBAL_VALUE_FLAGS.has(token) && i + 1 < argv.length) lead.push(argv[++i]!);
  }
  let word = argv[i];
  if (word === '--') word = argv[++i];
  if (word === undefined) {
    if (lead.includes('--version') || lead.includes('-v')) return { kind: 'version' };
    if (lead.includes('--help') || lead.includes('-h')) return { kind: 'help', command: null };
    const unknown = lead.find((t) => t.startsWith('-') && !['--json', '--url', '--token'].includes(t.split('=')[0]!));
    throw new UsageError(unknown ? `unknown option ${unknown.split('=')[0]}` : 'no command given');
  }
  let rest = argv.slice(i + 1);
  if (word === 'help') {
    const name = rest.filter((t) => !t.startsWith('-')).join(' ');
    if (!name) return { kind: 'help', command: null };
    const command = commandNamed(name);
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    return { kind: 'help', command };
  }
  let name = word;
  if (word === 'config') {
    const sub = rest[0];
    if (sub === 'get' || sub === 'set') {
      name = `config ${sub}`;
      rest = rest.slice(1);
    } else if (sub === undefined || sub === '--help' || sub === '-h') {
      throw new UsageError('config takes a subcommand: get or set');
    } else {
      throw new UsageError(`unknown command "config ${sub}"; config takes get or set`);
    }
  }
  // `members <project>` lists; `members grant|revoke <project>` change (the words win over a
  // project slugged grant or revoke).
  if (word === 'members' && (rest[0] === 'grant' || rest[0] === 'revoke')) {
    name = `members ${rest[0]}`;
    rest = rest.slice(1);
  }
  const command = commandNamed(name);
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);

  const options: ParseArgsConfig['options'] = {};
  for (const [key, spec] of Object.entries({ ...GLOBAL_OPTIONS, ...command.options })) {
    options[key] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...lead, ...rest], options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    throw new UsageError(cleanParseError(error), command.name);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help', command };

  // Positional arguments.
  const args: Record<string, string | string[]> = {};
  const specs = command.args;
  for (let k = 0; k < specs.length; k++) {
    const spec = specs[k]!;
    if (spec.variadic) {
      const values = positionals.slice(k);
      if (values.length === 0) throw new UsageError(`missing <${spec.name}>`, command.name);
      args[spec.name] = values;
    } else {
      const value = positionals[k];
      if (value === undefined) throw new UsageError(`missing <${spec.name}>`, command.name);
      args[spec.name] = value;
    }
  }
  if (!specs.at(-1)?.variadic && positionals.length > specs.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[specs.length])}`, command.name);
  }
  for (const [key, spec] of Object.entries(command.options)) {
    if (spec.required && (values[key] === undefined || values[key] === '')) {
      throw new UsageError(`missing --${key}${spec.value ? ` ${spec.value}` : ''}`, command.name);
    }
  }

  const url = (values.url as string | undefined) ?? env.STAGEPLANE_URL ?? DEFAULT_URL;
  const token = (values.token as string | undefined) ?? env.STAGEPLANE_TOKEN ?? null;
  const timeoutMs = typeof values.timeout === 'string' ? parseDuration(values.timeout) : 600_000;
  if (typeof values.timeout === 'string' && command.follows === 'wait' && !values.wait) {
    throw new UsageError('--timeout goes with --wait', command.name);
  }
  return {
    kind: 'run',
    command,
    args,
    options: values,
    global: { url: url || DEFAULT_URL, token: token || null, json: Boolean(values.json), timeoutMs },
  };
}

/** parseArgs' messages, without Node's advice about `--` that does not apply here. */
function cleanParseError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const message = (e.message ?? String(error)).split('. To specify a positional argument')[0]!;
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const m = /Unknown option '([^']+)'/.exec(message);
    return m ? `unknown option ${m[1]}` : message;
  }
  return message;
}

// ---- help ----------------------------------------------------------------------------------

const synopsis = (c: CommandSpec) => {
  const args = c.args.map((a) => (a.variadic ? `<${a.name}>...` : `<${a.name}>`));
  const opts = Object.entries(c.options).map(([k, o]) => {
    const text = `--${k}${o.value ? ` ${o.value}` : ''}`;
    return o.required ? text : `[${text}]`;
  });
  return ['stageplane', c.name, ...args, ...opts].join(' ');
};

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(
    ([k, o]) => [`${o.short ? `-${o.short}, ` : ''}--${k}${o.value ? ` ${o.value}` : ''}`, o.help] as const,
  );
  const width = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

export function commandHelp(c: CommandSpec): string {
  const lines = [`usage: ${synopsis(c)}`, '', `${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.`];
  if (c.description) lines.push(c.description);
  if (c.args.length) {
    const width = Math.max(...c.args.map((a) => a.name.length + 2));
    lines.push('', 'Arguments:', ...c.args.map((a) => `  ${`<${a.name}>`.padEnd(width)}  ${a.help}`));
  }
  if (Object.keys(c.options).length) lines.push('', 'Options:', ...optionLines(c.options));
  lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
  lines.push('', c.examples.length > 1 ? 'Examples:' : 'Example:', ...c.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

export function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: stageplane <command> [arguments] [options]',
    '',
    'Stageplane from scripts and CI, through its public GraphQL API.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Environment: STAGEPLANE_URL (server), STAGEPLANE_TOKEN (bearer token), NO_COLOR (no colour).',
    'Exit status: 0 done (a followed deployment SUCCEEDED), 1 a followed deployment ended otherwise,',
    '  2 usage error, 3 UNAUTHENTICATED or FORBIDDEN, 4 any other refusal, 5 the server cannot be reached,',
    '  130 Ctrl-C while following (the deployment goes on).',
    '',
    "Run `stageplane <command> --help` for a command's options and an example.",
    '',
    'Example:',
    '  stageplane push shop --branch main --sha "$GITHUB_SHA" --wait && stageplane promote shop staging --wait',
  ].join('\n');
}
