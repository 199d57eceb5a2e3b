// The command line: every command's arguments, options, help and example, and the parser
// (node:util parseArgs, strict). Pure: no I/O, so unit tests can drive it.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_URL } from './client.ts';
import { UsageError } from './errors.ts';
import { type TokenSource, tokenSourceFrom } from './token-source.ts';

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
  'token-file': { type: 'string', value: 'PATH', help: 'read the bearer token from this file (default: $STAGEPLANE_TOKEN_FILE)' },
  oidc: {
    type: 'boolean',
    help: "in GitHub Actions: sign in with the job's own OIDC token (needs `permissions: id-token: write` and a trust policy)",
  },
  'oidc-audience': {
    type: 'string',
    value: 'AUDIENCE',
    help: "with --oidc: the token's audience, as the trust policy names it (default: $STAGEPLANE_OIDC_AUDIENCE, else the server's origin)",
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

const OVERRIDE_FREEZE: OptionSpec = {
  type: 'string',
  value: 'REASON',
  help: "break the glass of a freeze window in force (a role of policy.freezeOverrideRoles; another person's approval follows)",
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
    description:
      'Type, upstream, current release, the latest active deployment, frozen and policy status; for preview environments ' +
      '(made by pushes, see `preview enable`) also the branch and when it expires.',
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
    name: 'insights',
    summary: "an environment's deployment measures (DORA) over the last days",
    description:
      'Deployments, successes, failures, rollbacks, deployments per day, change failure rate, and p50/p90 of lead time ' +
      '(push to SUCCEEDED), time to restore (FAILED to the next SUCCEEDED) and approval wait, over the N days up to now, ' +
      'with one line per UTC day. "-" where nothing was measured.',
    args: [PROJECT, { name: 'env', help: 'environment slug' }],
    options: { days: { type: 'string', value: 'N', help: 'the last N days, 1 to 366 (default 30)' } },
    examples: ['stageplane insights shop production', 'stageplane insights shop production --days 7 --json'],
  },
  {
    name: 'preview enable',
    summary: 'make a preview environment for each pushed branch that matches a pattern',
    description:
      "The first push of a matching branch makes a CUSTOM environment from --from's settings, policy and deploy target " +
      '(secret values are not copied) and deploys there; each later push deploys there and renews its expiry; it is ' +
      'archived when the branch is deleted (GitHub webhook) or --ttl hours after its last push. Options left out keep ' +
      'the current policy (or the defaults: --from development, --ttl 72).',
    args: [PROJECT],
    options: {
      pattern: { type: 'string', value: 'GLOB', help: 'branches that get a preview, e.g. "feature/*" (required the first time)' },
      from: { type: 'string', value: 'ENV', help: 'environment whose settings previews start from (default development)' },
      ttl: { type: 'string', value: 'HOURS', help: 'archive a preview this many hours after its last push (1 to 720, default 72)' },
    },
    examples: ['stageplane preview enable shop --pattern "feature/*" --ttl 48'],
  },
  {
    name: 'preview disable',
    summary: 'stop making preview environments (existing ones stay until they expire)',
    args: [PROJECT],
    options: {},
    examples: ['stageplane preview disable shop'],
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
      'override-freeze': OVERRIDE_FREEZE,
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
      'override-freeze': OVERRIDE_FREEZE,
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
    name: 'freeze list',
    summary: "list a project's freeze windows, with the occurrence in force or the next one",
    args: [PROJECT],
    options: {},
    examples: ['stageplane freeze list shop'],
  },
  {
    name: 'freeze create',
    summary: 'create a freeze window: one-off (--starts, --ends) or recurring (--rrule, --duration)',
    description:
      'Deployments into the environments it covers do not start while an occurrence is in force; rollbacks do unless ' +
      '--no-rollback. No --env and no --type: every environment of the project.',
    args: [PROJECT],
    options: {
      name: { type: 'string', value: 'NAME', help: 'its name', required: true },
      reason: { type: 'string', value: 'TEXT', help: 'why (shown with the freeze)', required: true },
      starts: { type: 'string', value: 'TIME', help: 'ISO-8601 date-time with a zone, e.g. 2030-12-20T00:00:00Z', required: true },
      ends: { type: 'string', value: 'TIME', help: 'end of a one-off window' },
      rrule: { type: 'string', value: 'RRULE', help: 'RFC 5545 RRULE of a recurring window, e.g. FREQ=WEEKLY;BYDAY=FR;BYHOUR=16' },
      duration: { type: 'string', value: 'MINUTES', help: 'how long each occurrence lasts (1 to 44640)' },
      tz: { type: 'string', value: 'ZONE', help: 'IANA time zone of the RRULE (default UTC)' },
      env: { type: 'string', value: 'GLOBS', help: 'environment slugs, comma-separated, * and ? allowed' },
      type: { type: 'string', value: 'TYPES', help: 'environment types, comma-separated (e.g. PRODUCTION)' },
      'no-rollback': { type: 'boolean', help: 'refuse rollbacks too while it is in force' },
    },
    examples: [
      'stageplane freeze create shop --name "Friday" --reason "no deploys before the weekend" --starts 2030-01-03T00:00:00Z --rrule "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0" --duration 3840 --tz Europe/Berlin --type PRODUCTION',
    ],
  },
  {
    name: 'freeze delete',
    summary: 'delete a freeze window (its creator or an ADMIN)',
    args: [{ name: 'window', help: 'freeze window id, as printed by freeze list' }],
    options: {},
    examples: ['stageplane freeze delete RnJlZXplV2luZG93Oi4uLg=='],
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
  {
    name: 'notify list',
    summary: "list a project's notification channels and their latest deliveries",
    args: [PROJECT],
    options: { deliveries: { type: 'string', value: 'N', help: 'deliveries shown per channel (default 3)' } },
    examples: ['stageplane notify list shop', 'stageplane notify list shop --json | jq ".[].deliveries[0].status"'],
  },
  {
    name: 'notify add',
    summary: 'add a notification channel (a signed WEBHOOK or a SLACK incoming webhook)',
    description:
      'The URL is a credential: the server stores it encrypted and only ever shows its host. Prefer ' +
      '$STAGEPLANE_NOTIFY_URL to --receiver: arguments are visible to other users of the machine.',
    args: [PROJECT, { name: 'name', help: 'channel name' }],
    options: {
      kind: { type: 'string', value: 'K', help: 'WEBHOOK or SLACK (default WEBHOOK)' },
      receiver: { type: 'string', value: 'URL', help: 'the receiver URL (default: $STAGEPLANE_NOTIFY_URL)' },
      events: { type: 'string', value: 'E[,E...]', help: 'events to send, e.g. APPROVAL_REQUESTED,DEPLOYMENT_FAILED', required: true },
      env: { type: 'string', value: 'GLOB[,GLOB...]', help: 'only these environments (slugs or globs, e.g. prod*); default every one' },
    },
    examples: [
      'stageplane notify add shop ops --kind SLACK --events APPROVAL_REQUESTED,DEPLOYMENT_FAILED --env "prod*"  # URL in $STAGEPLANE_NOTIFY_URL',
    ],
  },
  {
    name: 'notify test',
    summary: 'send one TEST delivery to a channel',
    args: [{ name: 'channel', help: 'channel id, as printed by notify list' }],
    options: {},
    examples: ['stageplane notify test Tm90aWZpY2F0aW9uQ2hhbm5lbDo...'],
  },
  {
    name: 'notify rm',
    summary: 'delete a notification channel (its pending deliveries stop)',
    args: [{ name: 'channel', help: 'channel id, as printed by notify list' }],
    options: {},
    examples: ['stageplane notify rm Tm90aWZpY2F0aW9uQ2hhbm5lbDo...'],
  },
];

export const commandNamed = (name: string) => COMMANDS.find((c) => c.name === name) ?? null;

/** Commands of two words: the first word and its subcommands. */
const SUBCOMMANDS: Record<string, string[]> = {
  config: ['get', 'set'],
  freeze: ['list', 'create', 'delete'],
  preview: ['enable', 'disable'],
};

export interface GlobalOptions {
  url: string;
  /** --token or $STAGEPLANE_TOKEN as given; `tokenSource` says where to get it otherwise. */
  token: string | null;
  tokenSource: TokenSource;
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

const GLOBAL_VALUE_FLAGS = new Set(['--url', '--token', '--token-file', '--oidc-audience']);

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
    const unknown = lead.find(
      (t) => t.startsWith('-') && !['--json', '--url', '--token', '--token-file', '--oidc', '--oidc-audience'].includes(t.split('=')[0]!),
    );
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
  const subcommands = SUBCOMMANDS[word];
  if (subcommands) {
    const sub = rest[0];
    const choices = subcommands.join(subcommands.length > 2 ? ', ' : ' or ');
    if (sub !== undefined && subcommands.includes(sub)) {
      name = `${word} ${sub}`;
      rest = rest.slice(1);
    } else if (sub === undefined || sub === '--help' || sub === '-h') {
      throw new UsageError(`${word} takes a subcommand: ${choices}`);
    } else {
      throw new UsageError(`unknown command "${word} ${sub}"; ${word} takes ${choices}`);
    }
  } else if (word === 'notify') {
    const sub = rest[0];
    if (sub === 'list' || sub === 'add' || sub === 'test' || sub === 'rm') {
      name = `notify ${sub}`;
      rest = rest.slice(1);
    } else if (sub === undefined || sub === '--help' || sub === '-h') {
      throw new UsageError('notify takes a subcommand: list, add, test or rm');
    } else {
      throw new UsageError(`unknown command "notify ${sub}"; notify takes list, add, test or rm`);
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
  const tokenSource = tokenSourceFrom(
    {
      token: values.token as string | undefined,
      tokenFile: values['token-file'] as string | undefined,
      oidc: values.oidc === true,
      oidcAudience: values['oidc-audience'] as string | undefined,
    },
    env,
  );
  const token = tokenSource.kind === 'value' ? tokenSource.token : null;
  const timeoutMs = typeof values.timeout === 'string' ? parseDuration(values.timeout) : 600_000;
  if (typeof values.timeout === 'string' && command.follows === 'wait' && !values.wait) {
    throw new UsageError('--timeout goes with --wait', command.name);
  }
  return {
    kind: 'run',
    command,
    args,
    options: values,
    global: { url: url || DEFAULT_URL, token: token || null, tokenSource, json: Boolean(values.json), timeoutMs },
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
    "Environment: STAGEPLANE_URL (server), STAGEPLANE_TOKEN (bearer token), STAGEPLANE_TOKEN_FILE (a file holding it), STAGEPLANE_OIDC_AUDIENCE (GitHub Actions: the job's OIDC token for this audience), NO_COLOR (no colour).",
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
