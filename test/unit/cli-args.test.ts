// The CLI's command line (cli/commands.ts): every command parses, helps with an example, and
// refuses what it cannot run with a UsageError (exit 2).
import { describe, expect, it } from 'vitest';
import { COMMANDS, commandHelp, generalHelp, parseCommandLine, parseDuration, type Parsed } from '../../cli/commands.ts';
import { endpointFrom } from '../../cli/client.ts';
import { describeFailure, UsageError, ApiError, UnreachableError, EXIT } from '../../cli/errors.ts';

const run = (argv: string[], env: Record<string, string> = {}) => parseCommandLine(argv, env) as Extract<Parsed, { kind: 'run' }>;

function usageError(argv: string[]): UsageError {
  try {
    parseCommandLine(argv, {});
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`${argv.join(' ')} parsed`);
}

const DEP = 'RGVwbG95bWVudDox';

describe('cli command line', () => {
  it('parses every command with its arguments and options', () => {
    const cases: [string[], string, Record<string, unknown>, Record<string, unknown>][] = [
      [['projects'], 'projects', {}, {}],
      [['envs', 'shop'], 'envs', { project: 'shop' }, {}],
      [
        ['deployments', 'shop', '--env', 'staging', '--status', 'RUNNING,FAILED', '--first', '5'],
        'deployments',
        { project: 'shop' },
        { env: 'staging', status: 'RUNNING,FAILED', first: '5' },
      ],
      [['config', 'get', 'shop', 'staging'], 'config get', { project: 'shop', env: 'staging' }, {}],
      [
        ['config', 'set', 'shop', 'staging', 'logLevel=WARN', 'rateLimit.enabled=false'],
        'config set',
        { project: 'shop', env: 'staging', 'key=value': ['logLevel=WARN', 'rateLimit.enabled=false'] },
        {},
      ],
      [['diff', 'shop', 'staging', 'production'], 'diff', { project: 'shop', base: 'staging', target: 'production' }, {}],
      [['policy', 'shop', 'production'], 'policy', { project: 'shop', env: 'production' }, {}],
      [['insights', 'shop', 'production', '--days', '7'], 'insights', { project: 'shop', env: 'production' }, { days: '7' }],
      [
        ['preview', 'enable', 'shop', '--pattern', 'feature/*', '--from', 'staging', '--ttl', '24'],
        'preview enable',
        { project: 'shop' },
        { pattern: 'feature/*', from: 'staging', ttl: '24' },
      ],
      [['preview', 'disable', 'shop'], 'preview disable', { project: 'shop' }, {}],
      [
        ['push', 'shop', '--branch', 'main', '--sha', 'abcdef1', '--message', 'Fix it', '--wait'],
        'push',
        { project: 'shop' },
        { branch: 'main', sha: 'abcdef1', message: 'Fix it', wait: true },
      ],
      [['deploy', 'shop', 'development', '--release', '1.2.3'], 'deploy', { project: 'shop', env: 'development' }, { release: '1.2.3' }],
      [
        ['promote', 'shop', 'staging', '--wait', '--timeout', '90s'],
        'promote',
        { project: 'shop', env: 'staging' },
        { wait: true, timeout: '90s' },
      ],
      [
        ['rollback', 'shop', 'production', '--release', 'abcdef1'],
        'rollback',
        { project: 'shop', env: 'production' },
        { release: 'abcdef1' },
      ],
      [['approve', DEP, '--comment', 'LGTM', '--wait'], 'approve', { deployment: DEP }, { comment: 'LGTM', wait: true }],
      [['reject', DEP, '--comment', 'no'], 'reject', { deployment: DEP }, { comment: 'no' }],
      [['cancel', DEP], 'cancel', { deployment: DEP }, {}],
      [['members', 'shop'], 'members', { project: 'shop' }, {}],
      [
        ['members', 'grant', 'shop', '--subject', 'alice', '--roles', 'DEVELOPER,QA'],
        'members grant',
        { project: 'shop' },
        { subject: 'alice', roles: 'DEVELOPER,QA' },
      ],
      [['members', 'revoke', 'shop', '--group', 'ops'], 'members revoke', { project: 'shop' }, { group: 'ops' }],
      [['visibility', 'shop', 'PRIVATE'], 'visibility', { project: 'shop', visibility: 'PRIVATE' }, {}],
      [['watch', DEP, '--after-seq', '7', '--timeout', '10m'], 'watch', { deployment: DEP }, { 'after-seq': '7', timeout: '10m' }],
      [['notify', 'list', 'shop', '--deliveries', '5'], 'notify list', { project: 'shop' }, { deliveries: '5' }],
      [
        ['notify', 'add', 'shop', 'ops', '--kind', 'SLACK', '--receiver', 'https://hooks.example/x', '--events', 'TEST', '--env', 'prod*'],
        'notify add',
        { project: 'shop', name: 'ops' },
        { kind: 'SLACK', receiver: 'https://hooks.example/x', events: 'TEST', env: 'prod*' },
      ],
      [['notify', 'test', 'Q2hhbm5lbDox'], 'notify test', { channel: 'Q2hhbm5lbDox' }, {}],
      [['notify', 'rm', 'Q2hhbm5lbDox'], 'notify rm', { channel: 'Q2hhbm5lbDox' }, {}],
      [
        ['deploy', 'shop', 'production', '--release', '1.2.3', '--override-freeze', 'payment outage'],
        'deploy',
        { project: 'shop', env: 'production' },
        { release: '1.2.3', 'override-freeze': 'payment outage' },
      ],
      [['freeze', 'list', 'shop'], 'freeze list', { project: 'shop' }, {}],
      [
        [
          'freeze',
          'create',
          'shop',
          '--name',
          'Fri',
          '--reason',
          'weekend',
          '--starts',
          '2030-01-03T00:00:00Z',
          '--rrule',
          'FREQ=WEEKLY',
          '--duration',
          '60',
          '--tz',
          'Europe/Berlin',
          '--env',
          'prod*',
          '--type',
          'PRODUCTION',
          '--no-rollback',
        ],
        'freeze create',
        { project: 'shop' },
        {
          name: 'Fri',
          reason: 'weekend',
          starts: '2030-01-03T00:00:00Z',
          rrule: 'FREQ=WEEKLY',
          duration: '60',
          tz: 'Europe/Berlin',
          env: 'prod*',
          type: 'PRODUCTION',
          'no-rollback': true,
        },
      ],
      [['freeze', 'delete', 'RnJlZXplV2luZG93OjE='], 'freeze delete', { window: 'RnJlZXplV2luZG93OjE=' }, {}],
    ];
    for (const [argv, name, args, options] of cases) {
      const parsed = run(argv);
      expect(parsed.kind, argv.join(' ')).toBe('run');
      expect(parsed.command.name).toBe(name);
      expect(parsed.args).toEqual(args);
      expect(parsed.options).toMatchObject(options);
    }
    // Every command of the contract is covered above.
    expect(new Set(cases.map((c) => c[1]))).toEqual(new Set(COMMANDS.map((c) => c.name)));
  });

  it('takes the server and token from flags, else STAGEPLANE_URL / STAGEPLANE_TOKEN, else the default URL', () => {
    expect(run(['projects']).global).toEqual({
      url: 'http://127.0.0.1:4000',
      token: null,
      tokenSource: { kind: 'none' },
      json: false,
      timeoutMs: 600_000,
    });
    const env = { STAGEPLANE_URL: 'https://sp.example.com', STAGEPLANE_TOKEN: 't0k' };
    expect(run(['projects'], env).global).toMatchObject({ url: 'https://sp.example.com', token: 't0k' });
    expect(run(['projects', '--url', 'http://x:1', '--token', 'flag', '--json'], env).global).toMatchObject({
      url: 'http://x:1',
      token: 'flag',
      json: true,
    });
    // Global options may also come before the command.
    expect(run(['--url', 'http://y:2', '--json', 'envs', 'shop']).global).toMatchObject({ url: 'http://y:2', json: true });
    expect(run(['watch', DEP, '--timeout', '90']).global.timeoutMs).toBe(90_000);
  });

  it('takes the token from a file or the CI job’s OIDC token: flags first, one flag at most, then the variables', () => {
    expect(run(['projects', '--token-file', '/run/t']).global.tokenSource).toEqual({ kind: 'file', path: '/run/t' });
    expect(run(['--oidc', 'projects']).global.tokenSource).toEqual({ kind: 'oidc', audience: undefined });
    expect(run(['projects', '--oidc-audience', 'sp']).global.tokenSource).toEqual({ kind: 'oidc', audience: 'sp' });
    expect(run(['projects', '--oidc'], { STAGEPLANE_OIDC_AUDIENCE: 'env-aud' }).global.tokenSource).toEqual({
      kind: 'oidc',
      audience: 'env-aud',
    });
    expect(run(['projects'], { STAGEPLANE_TOKEN_FILE: '/f' }).global.tokenSource).toEqual({ kind: 'file', path: '/f' });
    expect(run(['projects'], { STAGEPLANE_OIDC_AUDIENCE: 'a' }).global.tokenSource).toEqual({ kind: 'oidc', audience: 'a' });
    // A flag beats every variable; STAGEPLANE_TOKEN beats the file variable.
    expect(run(['projects', '--token-file', '/x'], { STAGEPLANE_TOKEN: 't' }).global.tokenSource).toEqual({ kind: 'file', path: '/x' });
    expect(run(['projects'], { STAGEPLANE_TOKEN: 't', STAGEPLANE_TOKEN_FILE: '/f' }).global.tokenSource).toEqual({
      kind: 'value',
      token: 't',
    });
    expect(() => run(['projects', '--oidc', '--token', 't'])).toThrow(/different token sources/);
  });

  it('answers --help on every command with its usage and an example, and --help/help alone with the command list', () => {
    for (const command of COMMANDS) {
      const parsed = parseCommandLine([...command.name.split(' '), '--help']);
      expect(parsed).toEqual({ kind: 'help', command });
      const text = commandHelp(command);
      expect(text).toContain(`usage: stageplane ${command.name}`);
      expect(text).toMatch(/Examples?:\n {2}stageplane /);
      expect(parseCommandLine(['help', ...command.name.split(' ')])).toEqual({ kind: 'help', command });
      expect(parseCommandLine([...command.name.split(' '), '-h'])).toEqual({ kind: 'help', command });
    }
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help', command: null });
    expect(parseCommandLine(['help'])).toEqual({ kind: 'help', command: null });
    for (const command of COMMANDS) expect(generalHelp()).toContain(`  ${command.name} `);
    expect(parseCommandLine(['--version'])).toEqual({ kind: 'version' });
  });

  it('refuses unknown commands and flags, missing and extra arguments, and bad values (usage errors)', () => {
    expect(usageError([]).message).toBe('no command given');
    expect(usageError(['deploi']).message).toBe('unknown command "deploi"');
    expect(usageError(['config']).message).toMatch(/get or set/);
    expect(usageError(['config', 'del', 'x']).message).toMatch(/unknown command "config del"/);
    expect(usageError(['projects', '--bogus'])).toMatchObject({ message: 'unknown option --bogus', command: 'projects' });
    expect(usageError(['--bogus']).message).toBe('unknown option --bogus');
    expect(usageError(['projects', '-x']).message).toBe('unknown option -x');
    expect(usageError(['envs'])).toMatchObject({ message: 'missing <project>', command: 'envs' });
    expect(usageError(['envs', 'shop', 'extra'])).toMatchObject({ message: 'unexpected argument "extra"', command: 'envs' });
    expect(usageError(['config', 'set', 'shop', 'staging'])).toMatchObject({ message: 'missing <key=value>' });
    expect(usageError(['push', 'shop', '--sha', 'abcdef1'])).toMatchObject({ message: 'missing --branch B', command: 'push' });
    expect(usageError(['deploy', 'shop', 'development'])).toMatchObject({ message: 'missing --release V' });
    expect(usageError(['reject', DEP])).toMatchObject({ message: 'missing --comment C' });
    expect(usageError(['push', 'shop', '--branch'])).toMatchObject({ command: 'push' });
    expect(usageError(['projects', '--json=yes']).command).toBe('projects');
    expect(usageError(['watch', DEP, '--timeout', 'soon']).message).toMatch(/--timeout takes a duration/);
    expect(usageError(['promote', 'shop', 'staging', '--timeout', '5']).message).toBe('--timeout goes with --wait');
    // Options that belong to other commands are unknown here.
    expect(usageError(['projects', '--wait']).message).toBe('unknown option --wait');
    expect(usageError(['cancel', DEP, '--wait']).message).toBe('unknown option --wait');
  });

  it('parses durations', () => {
    expect(parseDuration('600')).toBe(600_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(() => parseDuration('0')).toThrow(UsageError);
    expect(() => parseDuration('-1')).toThrow(UsageError);
  });

  it('derives the HTTP and WebSocket endpoints from --url and refuses credentials in it', () => {
    expect(endpointFrom('http://127.0.0.1:4000', 't')).toEqual({
      httpUrl: 'http://127.0.0.1:4000/graphql',
      wsUrl: 'ws://127.0.0.1:4000/graphql',
      token: 't',
    });
    expect(endpointFrom('https://sp.example.com/api/graphql/', null)).toEqual({
      httpUrl: 'https://sp.example.com/api/graphql',
      wsUrl: 'wss://sp.example.com/api/graphql',
      token: null,
    });
    expect(endpointFrom('https://sp.example.com/base/', ' ')).toMatchObject({
      httpUrl: 'https://sp.example.com/base/graphql',
      token: null,
    });
    expect(() => endpointFrom('https://user:secret@sp.example.com', null)).toThrow(UsageError);
    expect(() => endpointFrom('ftp://sp.example.com', null)).toThrow(UsageError);
    expect(() => endpointFrom('not a url', null)).toThrow(UsageError);
  });

  it('maps failures to exit statuses', () => {
    expect(describeFailure(new UsageError('x')).exitCode).toBe(EXIT.USAGE);
    expect(describeFailure(new ApiError('UNAUTHENTICATED', 'no')).exitCode).toBe(3);
    expect(describeFailure(new ApiError('FORBIDDEN', 'no')).exitCode).toBe(3);
    for (const code of ['NOT_FOUND', 'BAD_USER_INPUT', 'CONFLICT', 'PRECONDITION_FAILED', 'INTERNAL_SERVER_ERROR']) {
      expect(describeFailure(new ApiError(code, 'no')).exitCode).toBe(4);
    }
    expect(describeFailure(new UnreachableError('http://h/graphql', 'ECONNREFUSED'))).toEqual({
      exitCode: 5,
      message: 'cannot reach the Stageplane server at http://h/graphql: ECONNREFUSED',
    });
    expect(describeFailure(new ApiError('CONFLICT', 'Settings are at version 3, not 2', { changedBy: 'carol' })).message).toBe(
      'CONFLICT: Settings are at version 3, not 2 (changed by carol)',
    );
  });
});
