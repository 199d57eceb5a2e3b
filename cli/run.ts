// The commands. `run` parses the command line, talks to the server through the public API only
// (GraphQL over HTTP, graphql-ws to follow a deployment) and returns the exit status.
import { readFileSync } from 'node:fs';
import { Client, endpointFrom } from './client.ts';
import { commandHelp, generalHelp, parseCommandLine, parseCount, type CommandSpec, type GlobalOptions } from './commands.ts';
import { ApiError, describeFailure, EXIT, UnreachableError, UsageError } from './errors.ts';
import { followDeployment } from './follow.ts';
import { resolveToken } from './token-source.ts';
import type { ResultOf } from './graphql.ts';
import * as ops from './operations.ts';
import { eventView, Output, statusStyle, table, type EventLike } from './output.ts';
import { buildSettingsPatch, changedKeys, flattenSettings, loadSchema } from './settings.ts';

type DeploymentData = ResultOf<typeof ops.DeploymentFields>;

export interface RunIO {
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  env?: Record<string, string | undefined>;
  /** Aborted on Ctrl-C: following stops (the deployment goes on). */
  signal?: AbortSignal;
  /** Called with true while a deployment is followed (Ctrl-C then stops following, not the process). */
  following?: (active: boolean) => void;
}

interface Ctx {
  client: Client;
  out: Output;
  global: GlobalOptions;
  args: Record<string, string | string[]>;
  options: Record<string, string | boolean | undefined>;
  signal: AbortSignal;
  following: (active: boolean) => void;
  env: Record<string, string | undefined>;
}

const arg = (ctx: Ctx, name: string) => ctx.args[name] as string;
const opt = (ctx: Ctx, name: string) => ctx.options[name] as string | undefined;

const notFound = (message: string) => new ApiError('NOT_FOUND', message);

export async function run(argv: string[], io: RunIO = {}): Promise<number> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let parsed;
  try {
    parsed = parseCommandLine(argv, env);
  } catch (error) {
    const out = new Output(false, stdout, stderr, env);
    if (error instanceof UsageError) {
      out.error(error.message);
      const command = error.command ? parseCommandSafe(error.command) : null;
      out.notice('');
      out.notice(command ? commandHelp(command) : generalHelp());
      return EXIT.USAGE;
    }
    throw error;
  }
  if (parsed.kind === 'help') {
    const out = new Output(false, stdout, stderr, env);
    out.data(parsed.command ? commandHelp(parsed.command) : generalHelp());
    return EXIT.OK;
  }
  if (parsed.kind === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    stdout.write(`stageplane ${pkg.version}\n`);
    return EXIT.OK;
  }
  const out = new Output(parsed.global.json, stdout, stderr, env);
  let client: Client;
  try {
    const token = await resolveToken(parsed.global.tokenSource, parsed.global.url, env);
    client = new Client(endpointFrom(parsed.global.url, token));
  } catch (error) {
    const failure = describeFailure(error);
    out.error(failure.message);
    return failure.exitCode;
  }
  const ctx: Ctx = {
    client,
    out,
    global: parsed.global,
    args: parsed.args,
    options: parsed.options,
    signal: io.signal ?? new AbortController().signal,
    following: io.following ?? (() => {}),
    env,
  };
  try {
    return await HANDLERS[parsed.command.name]!(ctx);
  } catch (error) {
    const failure = describeFailure(error);
    let message = failure.message;
    if (error instanceof ApiError && error.code === 'UNAUTHENTICATED' && !client.endpoint.token) {
      message += ' (no token given: set STAGEPLANE_TOKEN or pass --token)';
    }
    if (error instanceof UsageError) {
      out.error(message);
      const command = parseCommandSafe(error.command ?? parsed.command.name);
      if (command) out.notice(`\n${commandHelp(command)}`);
      return EXIT.USAGE;
    }
    out.error(message);
    return failure.exitCode;
  }
}

function parseCommandSafe(name: string): CommandSpec | null {
  try {
    const parsed = parseCommandLine([...name.split(' '), '--help']);
    return parsed.kind === 'help' ? parsed.command : null;
  } catch {
    return null;
  }
}

function showPreviewPolicy(ctx: Ctx, data: ResultOf<typeof ops.SetPreviewPolicy>): number {
  const { slug, previewPolicy: policy } = data.setPreviewPolicy;
  if (ctx.out.json) ctx.out.jsonValue(policy);
  else if (policy?.enabled) {
    ctx.out.data(
      `${slug}: previews enabled for branches ${policy.branchPattern}, from ${policy.copySettingsFrom}, expiring ${policy.ttlHours} h after the last push`,
    );
  } else ctx.out.data(`${slug}: previews disabled (existing previews stay until they expire)`);
  return EXIT.OK;
}

// ---- look-ups: slugs and versions to ids -----------------------------------------------------

/** --subject or --group, exactly one (a usage error otherwise). */
function granteeOf(ctx: Ctx, command: string): { subject: string; group?: undefined } | { group: string; subject?: undefined } {
  const subject = opt(ctx, 'subject');
  const group = opt(ctx, 'group');
  if ((subject === undefined) === (group === undefined)) throw new UsageError('give exactly one of --subject and --group', command);
  return subject !== undefined ? { subject } : { group: group! };
}

async function projectId(ctx: Ctx, slug: string): Promise<string> {
  const data = await ctx.client.request(ops.ProjectId, { project: slug });
  if (!data.project) throw notFound(`No project with slug ${JSON.stringify(slug)}`);
  return data.project.id;
}

async function environmentId(ctx: Ctx, project: string, env: string): Promise<string> {
  const data = await ctx.client.request(ops.EnvironmentId, { project, env });
  if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
  if (!data.project.environment) throw notFound(`No environment ${JSON.stringify(env)} in project ${project}`);
  return data.project.environment.id;
}

/** A release by version, or by commit sha (a prefix of 7 or more hex digits). */
async function releaseId(ctx: Ctx, project: string, wanted: string): Promise<string> {
  const sha = wanted.toLowerCase();
  let after: string | null = null;
  let bySha: string | null = null;
  for (;;) {
    const data: ResultOf<typeof ops.Releases> = await ctx.client.request(ops.Releases, { project, after });
    if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
    for (const { node } of data.project.releases.edges) {
      if (node.version === wanted) return node.id;
      if (!bySha && (node.commitSha === sha || (/^[0-9a-f]{7,}$/.test(sha) && node.commitSha.startsWith(sha)))) bySha = node.id;
    }
    const page = data.project.releases.pageInfo;
    if (!page.hasNextPage || !page.endCursor) break;
    after = page.endCursor;
  }
  if (bySha) return bySha;
  throw notFound(`No release ${JSON.stringify(wanted)} in project ${project} (by version or commit sha)`);
}

// ---- printing ----------------------------------------------------------------------------------

const shortSha = (sha: string) => sha.slice(0, 7);
const pct = (p: number) => `${Math.round(p * 100)}%`;
const localTime = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');

/** Seconds as the two largest units, e.g. 90061 -> "1d 1h", 95 -> "1m 35s"; null -> "-". */
export function duration(seconds: number | null): string {
  if (seconds === null) return '-';
  const s = Math.round(seconds);
  const parts: [number, string][] = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor((s % 86_400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first < 0) return '0s';
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => `${n}${u}`)
    .join(' ');
}

function deploymentRows(ctx: Ctx, list: DeploymentData[]): string {
  const p = ctx.out.out;
  return table(
    ['ID', 'ENV', 'RELEASE', 'KIND', 'STATUS', 'PROGRESS', 'REQUESTED BY', 'CREATED'],
    list.map((d) => [
      d.id,
      d.environment.slug,
      `${d.release.version}${d.release.version !== shortSha(d.release.commitSha) ? ` (${shortSha(d.release.commitSha)})` : ''}`,
      d.kind,
      p(statusStyle(d.status), d.status),
      pct(d.progress),
      d.requestedBy,
      localTime(d.createdAt),
    ]),
    p,
  );
}

function describeStart(d: DeploymentData, verb?: string): string {
  const from = d.sourceEnvironment ? ` from ${d.sourceEnvironment.slug}` : '';
  const approvals =
    d.status === 'PENDING_APPROVAL'
      ? `; needs ${d.requiredApprovals - d.approvals.filter((a) => a.decision === 'APPROVE').length} more approval(s)`
      : '';
  return `${verb ? `${verb}: ` : ''}${d.kind} of ${d.release.version} to ${d.environment.slug}${from}: ${d.status}${approvals}`;
}

// ---- following ---------------------------------------------------------------------------------

/** Follows one deployment; returns the exit status (0 SUCCEEDED, 1 otherwise, 130 interrupted). */
async function follow(ctx: Ctx, deploymentId: string, afterSeq = 0, justReached = false): Promise<number> {
  const d = (await readDeployment(ctx, deploymentId, justReached)).deployment;
  if (!d) throw notFound(`No deployment with id ${JSON.stringify(deploymentId)}`);
  const title = `${d.project.slug}/${d.environment.slug} ${d.release.version}`;
  const view = eventView(ctx.out, title);
  if (!ctx.out.json && !ctx.out.interactive) ctx.out.notice(`following deployment ${d.id} (${title}, ${d.kind}), now ${d.status}`);

  // Overall progress for the bar: each step's progress from the events, over the deployment's steps.
  let steps = d.steps.map((s) => s.name);
  const stepProgress = new Map(d.steps.map((s) => [s.name, s.progress]));
  const refreshSteps = () => {
    ctx.client
      .request(ops.Deployment, { id: deploymentId })
      .then((r) => {
        if (!r.deployment) return;
        steps = r.deployment.steps.map((s) => s.name);
        for (const s of r.deployment.steps) stepProgress.set(s.name, Math.max(stepProgress.get(s.name) ?? 0, s.progress));
        view.progress(overall());
      })
      .catch(() => {});
  };
  const overall = () => {
    const names = steps.length ? steps : [...stepProgress.keys()];
    return names.length ? names.reduce((sum, n) => sum + (stepProgress.get(n) ?? 0), 0) / names.length : 0;
  };
  view.progress(d.status === 'SUCCEEDED' ? 1 : overall());

  ctx.following(true);
  let result;
  try {
    result = await followDeployment({
      endpoint: ctx.client.endpoint,
      deploymentId: d.id,
      afterSeq,
      timeoutMs: ctx.global.timeoutMs,
      signal: ctx.signal,
      onEvent: (event: EventLike) => {
        if (event.step) {
          if (event.type === 'STEP_SUCCEEDED') stepProgress.set(event.step, 1);
          else if (typeof event.progress === 'number') stepProgress.set(event.step, event.progress);
          else if (!stepProgress.has(event.step)) stepProgress.set(event.step, 0);
        }
        view.event(event);
        view.progress(event.status === 'SUCCEEDED' ? 1 : overall(), event.step ?? undefined);
        if (ctx.out.interactive && event.type === 'STARTED') refreshSteps();
      },
      onNotice: (text) => view.notice(text),
      currentStatus: async () => (await ctx.client.request(ops.Deployment, { id: d.id })).deployment?.status ?? null,
    });
  } finally {
    ctx.following(false);
    view.stop();
  }
  if (result.interrupted) {
    ctx.out.notice(
      `stopped watching deployment ${d.id} after event #${result.lastSeq}; the deployment goes on.\n` +
        `follow it again with: stageplane watch ${d.id}${result.lastSeq ? ` --after-seq ${result.lastSeq}` : ''}`,
    );
    return EXIT.INTERRUPTED;
  }
  const status = result.status ?? 'UNKNOWN';
  if (status === 'SUCCEEDED') {
    ctx.out.notice(`deployment ${d.id} ${ctx.out.err('green', 'SUCCEEDED')}`);
    return EXIT.OK;
  }
  let why = '';
  try {
    const final = (await ctx.client.request(ops.Deployment, { id: d.id })).deployment;
    if (final?.error) why = `: ${final.error}`;
  } catch {
    // the outcome is known; the reason is a nicety
  }
  ctx.out.notice(`deployment ${d.id} ended ${ctx.out.err('red', status)}${why}`);
  return EXIT.DEPLOYMENT_NOT_SUCCEEDED;
}

/**
 * The deployment to follow. Right after a mutation the server was there a moment ago: a failure to
 * reach it now is a blip, retried like a lost stream (for up to --timeout). Otherwise (`watch`), a
 * server that cannot be reached at all is reported at once.
 */
async function readDeployment(ctx: Ctx, id: string, retry: boolean): Promise<ResultOf<typeof ops.Deployment>> {
  const deadline = Date.now() + ctx.global.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.client.request(ops.Deployment, { id });
    } catch (error) {
      if (!retry || !(error instanceof UnreachableError) || Date.now() >= deadline || ctx.signal.aborted) throw error;
      if (attempt === 0) ctx.out.notice(`${error.message}; retrying for up to ${Math.round(ctx.global.timeoutMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** attempt)));
    }
  }
}

/** Prints a deployment just started or decided, then follows it with --wait. */
async function startedDeployment(ctx: Ctx, d: DeploymentData, verb?: string): Promise<number> {
  const wait = Boolean(ctx.options.wait);
  if (ctx.out.json) {
    if (!wait) ctx.out.jsonValue(d);
  } else {
    ctx.out.data(deploymentRows(ctx, [d]));
  }
  ctx.out.notice(describeStart(d, verb));
  if (!wait) return EXIT.OK;
  return follow(ctx, d.id, 0, true);
}

// ---- commands ----------------------------------------------------------------------------------

const HANDLERS: Record<string, (ctx: Ctx) => Promise<number>> = {
  async projects(ctx) {
    const all: NonNullable<ResultOf<typeof ops.Projects>['projects']['edges'][number]['node']>[] = [];
    let after: string | null = null;
    for (;;) {
      const data: ResultOf<typeof ops.Projects> = await ctx.client.request(ops.Projects, { after });
      all.push(...data.projects.edges.map((e) => e.node));
      if (!data.projects.pageInfo.hasNextPage || !data.projects.pageInfo.endCursor) break;
      after = data.projects.pageInfo.endCursor;
    }
    if (ctx.out.json) {
      ctx.out.jsonValue(all);
      return EXIT.OK;
    }
    if (all.length === 0) {
      ctx.out.notice('no projects yet');
      return EXIT.OK;
    }
    ctx.out.data(
      table(
        ['SLUG', 'NAME', 'ENVIRONMENTS', 'CREATED'],
        all.map((p) => [p.slug, p.name, p.environments.map((e) => e.slug).join(','), localTime(p.createdAt)]),
        ctx.out.out,
      ),
    );
    return EXIT.OK;
  },

  async envs(ctx) {
    const project = arg(ctx, 'project');
    const data = await ctx.client.request(ops.Environments, { project });
    if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
    const envs = data.project.environments;
    if (ctx.out.json) {
      ctx.out.jsonValue(envs);
      return EXIT.OK;
    }
    const p = ctx.out.out;
    // Preview columns only when the project has previews: the table stays as it was otherwise.
    const previews = envs.some((e) => e.previewBranch !== null);
    ctx.out.data(
      table(
        ['SLUG', 'TYPE', 'FROM', 'TRIGGER', 'TARGET', 'RELEASE', 'ACTIVE', 'FROZEN', 'POLICY', ...(previews ? ['BRANCH', 'EXPIRES'] : [])],
        envs.map((e) => [
          e.slug,
          e.type,
          e.promotesFrom?.slug ?? '-',
          e.policy.trigger + (e.policy.trigger === 'APPROVAL_REQUIRED' ? ` (${e.policy.requiredApprovals})` : ''),
          e.deployTarget.provider,
          e.currentRelease ? `${e.currentRelease.version}` : '-',
          e.activeDeployment
            ? p(statusStyle(e.activeDeployment.status), `${e.activeDeployment.status} ${pct(e.activeDeployment.progress)}`)
            : '-',
          e.frozen ? p('yellow', 'frozen') : 'no',
          e.policyReport.passed ? p('green', 'passed') : p('red', 'failed'),
          ...(previews ? [e.previewBranch ?? '-', e.previewBranch ? localTime(e.expiresAt) : '-'] : []),
        ]),
        p,
      ),
    );
    return EXIT.OK;
  },

  async deployments(ctx) {
    const project = arg(ctx, 'project');
    const first = opt(ctx, 'first') === undefined ? 20 : parseCount(opt(ctx, 'first')!, '--first', 1, 100);
    let status: string[] | null = null;
    const statusText = opt(ctx, 'status');
    if (statusText !== undefined) {
      const known = enumValues('DeploymentStatus');
      status = statusText
        .split(',')
        .map((s) => s.trim().toUpperCase())
        .filter(Boolean);
      const unknown = status.filter((s) => !known.includes(s));
      if (unknown.length || status.length === 0) {
        throw new UsageError(
          `--status takes statuses among ${known.join(', ')}${unknown.length ? `, not ${unknown.join(', ')}` : ''}`,
          'deployments',
        );
      }
    }
    const data = await ctx.client.request(ops.Deployments, {
      project,
      env: opt(ctx, 'env') ?? null,
      status: status as never,
      first,
    });
    if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
    const list = data.project.deployments.edges.map((e) => e.node);
    const envSlug = opt(ctx, 'env');
    if (envSlug && list.length === 0) await environmentId(ctx, project, envSlug); // NOT_FOUND for a mistyped environment
    if (ctx.out.json) {
      ctx.out.jsonValue(list);
      return EXIT.OK;
    }
    if (list.length === 0) {
      ctx.out.notice('no deployments match');
      return EXIT.OK;
    }
    ctx.out.data(deploymentRows(ctx, list));
    return EXIT.OK;
  },

  async 'preview enable'(ctx) {
    const project = arg(ctx, 'project');
    const data = await ctx.client.request(ops.PreviewPolicy, { project });
    if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
    const current = data.project.previewPolicy;
    const branchPattern = opt(ctx, 'pattern') ?? current?.branchPattern;
    if (branchPattern === undefined) throw new UsageError('--pattern is required the first time', 'preview enable');
    const ttlText = opt(ctx, 'ttl');
    const ttlHours = ttlText === undefined ? current?.ttlHours : parseCount(ttlText, '--ttl', 1, 720);
    const copySettingsFrom = opt(ctx, 'from') ?? current?.copySettingsFrom;
    return showPreviewPolicy(
      ctx,
      await ctx.client.request(ops.SetPreviewPolicy, {
        input: { projectId: data.project.id, enabled: true, branchPattern, copySettingsFrom, ttlHours },
      }),
    );
  },

  async 'preview disable'(ctx) {
    const project = arg(ctx, 'project');
    const data = await ctx.client.request(ops.PreviewPolicy, { project });
    if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
    const current = data.project.previewPolicy;
    if (!current?.enabled) {
      if (ctx.out.json) ctx.out.jsonValue(current);
      else ctx.out.notice(`${project}: previews are not enabled`);
      return EXIT.OK;
    }
    return showPreviewPolicy(
      ctx,
      await ctx.client.request(ops.SetPreviewPolicy, {
        input: { ...current, projectId: data.project.id, enabled: false },
      }),
    );
  },

  async 'config get'(ctx) {
    const project = arg(ctx, 'project');
    const env = arg(ctx, 'env');
    const settings = await readSettings(ctx, project, env);
    if (ctx.out.json) {
      ctx.out.jsonValue(settings.settings);
      return EXIT.OK;
    }
    const p = ctx.out.out;
    ctx.out.data(
      flattenSettings(loadSchema(), settings.settings)
        .map(([k, v]) => `${p('cyan', k)}=${v}`)
        .join('\n'),
    );
    return EXIT.OK;
  },

  async 'config set'(ctx) {
    const project = arg(ctx, 'project');
    const env = arg(ctx, 'env');
    const assignments = ctx.args['key=value'] as string[];
    const schema = loadSchema();
    // Malformed assignments are usage errors before anything is read.
    buildSettingsPatch(schema, {}, assignments);
    const before = await readSettings(ctx, project, env);
    const patch = buildSettingsPatch(schema, before.settings, assignments);
    const data = await ctx.client.request(ops.UpdateSettings, {
      input: { environmentId: before.id, patch: patch as never, expectedVersion: before.settings.version },
    });
    const after = data.updateEnvironmentSettings.settings;
    const changed = changedKeys(schema, before.settings, after);
    if (ctx.out.json) {
      ctx.out.jsonValue({ environment: env, previousVersion: before.settings.version, version: after.version, changed, settings: after });
      return EXIT.OK;
    }
    if (after.version === before.settings.version) ctx.out.data(`${project}/${env}: no change (settings version ${after.version})`);
    else ctx.out.data(`${project}/${env}: settings version ${before.settings.version} -> ${after.version}; changed ${changed.join(', ')}`);
    return EXIT.OK;
  },

  async diff(ctx) {
    const project = arg(ctx, 'project');
    const data = await ctx.client.request(ops.Compare, { project, base: arg(ctx, 'base'), target: arg(ctx, 'target') });
    if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
    const cmp = data.project.compareEnvironments;
    if (ctx.out.json) {
      ctx.out.jsonValue(cmp);
      return EXIT.OK;
    }
    if (cmp.identical) {
      ctx.out.data(`${cmp.base.slug} and ${cmp.target.slug} are identical`);
      return EXIT.OK;
    }
    const show = (v: unknown) => (v === undefined || v === null ? '-' : typeof v === 'string' ? v : JSON.stringify(v));
    ctx.out.data(
      table(
        ['PATH', cmp.base.slug.toUpperCase(), cmp.target.slug.toUpperCase()],
        cmp.differences.map((d) => [d.path, show(d.base), show(d.target)]),
        ctx.out.out,
      ),
    );
    return EXIT.OK;
  },

  async policy(ctx) {
    const project = arg(ctx, 'project');
    const env = arg(ctx, 'env');
    const data = await ctx.client.request(ops.Policy, { project, env });
    if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
    if (!data.project.environment) throw notFound(`No environment ${JSON.stringify(env)} in project ${project}`);
    const report = data.project.environment.policyReport;
    if (ctx.out.json) {
      ctx.out.jsonValue({ environment: env, ...report });
      return EXIT.OK;
    }
    const p = ctx.out.out;
    ctx.out.data(
      table(
        ['CHECK', 'SEVERITY', 'RESULT', 'DETAIL'],
        report.checks.map((c) => [
          c.id,
          c.severity,
          c.passed ? p('green', 'passed') : p(c.severity === 'error' ? 'red' : 'yellow', 'failed'),
          c.detail ?? '',
        ]),
        p,
      ),
    );
    const failed = report.checks.filter((c) => !c.passed && c.severity === 'error').length;
    ctx.out.notice(report.passed ? `policy of ${env}: passed` : `policy of ${env}: ${failed} failed error check(s) block deployments`);
    return EXIT.OK;
  },

  async insights(ctx) {
    const project = arg(ctx, 'project');
    const env = arg(ctx, 'env');
    const days = opt(ctx, 'days') === undefined ? 30 : parseCount(opt(ctx, 'days')!, '--days', 1, 366);
    const to = new Date();
    const from = new Date(to.getTime() - days * 86_400_000);
    const data = await ctx.client.request(ops.Insights, { project, env, from: from.toISOString(), to: to.toISOString() });
    if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
    const i = data.project.insights;
    if (ctx.out.json) {
      ctx.out.jsonValue(i);
      return EXIT.OK;
    }
    const p = ctx.out.out;
    const spread = (q: { p50: number | null; p90: number | null }) => `p50 ${duration(q.p50)}, p90 ${duration(q.p90)}`;
    ctx.out.data(`${project}/${i.environment}, ${localTime(i.from)} to ${localTime(i.to)} (${days} days)`);
    ctx.out.data(
      table(
        ['MEASURE', 'VALUE'],
        [
          ['deployments', `${i.deployments} (${i.successes} succeeded, ${i.failures} failed, ${i.rollbacks} rollbacks)`],
          ['deployments per day', i.deploymentsPerDay.toFixed(2)],
          ['change failure rate', i.changeFailureRate === null ? '-' : pct(i.changeFailureRate)],
          ['lead time', spread(i.leadTimeSeconds)],
          ['time to restore', spread(i.timeToRestoreSeconds)],
          ['approval wait', spread(i.approvalWaitSeconds)],
        ],
        p,
      ),
    );
    ctx.out.data('');
    ctx.out.data(
      table(
        ['DAY', 'DEPLOYMENTS', 'FAILURES'],
        i.series.map((b) => [b.day, String(b.deployments), b.failures ? p('red', String(b.failures)) : '0']),
        p,
      ),
    );
    return EXIT.OK;
  },

  async push(ctx) {
    const project = arg(ctx, 'project');
    const id = await projectId(ctx, project);
    const data = await ctx.client.request(ops.RecordPush, {
      input: {
        projectId: id,
        branch: opt(ctx, 'branch')!,
        commitSha: opt(ctx, 'sha')!,
        message: opt(ctx, 'message') ?? null,
        author: opt(ctx, 'author') ?? null,
        version: opt(ctx, 'version') ?? null,
      },
    });
    const { release, deployments } = data.recordPush;
    const wait = Boolean(ctx.options.wait);
    if (ctx.out.json) {
      if (!wait) ctx.out.jsonValue(data.recordPush);
    } else if (deployments.length) {
      ctx.out.data(deploymentRows(ctx, deployments));
    }
    ctx.out.notice(
      `release ${release.version} (${shortSha(release.commitSha)} on ${release.branch}): ` +
        (deployments.length
          ? `deploying to ${deployments.map((d) => d.environment.slug).join(', ')}`
          : 'no environment deploys this branch on push'),
    );
    if (!wait) return EXIT.OK;
    let exit: number = EXIT.OK;
    for (const d of deployments) {
      const code = await follow(ctx, d.id, 0, true);
      if (code === EXIT.INTERRUPTED) return code;
      if (code !== EXIT.OK) exit = code;
    }
    return exit;
  },

  async deploy(ctx) {
    const project = arg(ctx, 'project');
    const environmentIdValue = await environmentId(ctx, project, arg(ctx, 'env'));
    const release = await releaseId(ctx, project, opt(ctx, 'release')!);
    const data = await ctx.client.request(ops.Deploy, {
      input: { environmentId: environmentIdValue, releaseId: release, overrideFreeze: overrideFreeze(ctx) },
    });
    return startedDeployment(ctx, data.deploy);
  },

  async promote(ctx) {
    const project = arg(ctx, 'project');
    const target = await environmentId(ctx, project, arg(ctx, 'env'));
    const wanted = opt(ctx, 'release');
    const release = wanted ? await releaseId(ctx, project, wanted) : null;
    const data = await ctx.client.request(ops.Promote, {
      input: { environmentId: target, releaseId: release, overrideFreeze: overrideFreeze(ctx) },
    });
    return startedDeployment(ctx, data.promote);
  },

  async rollback(ctx) {
    const project = arg(ctx, 'project');
    const target = await environmentId(ctx, project, arg(ctx, 'env'));
    const wanted = opt(ctx, 'release');
    const release = wanted ? await releaseId(ctx, project, wanted) : null;
    const data = await ctx.client.request(ops.Rollback, { input: { environmentId: target, releaseId: release } });
    return startedDeployment(ctx, data.rollback);
  },

  async approve(ctx) {
    const data = await ctx.client.request(ops.Approve, {
      input: { deploymentId: arg(ctx, 'deployment'), comment: opt(ctx, 'comment') ?? null },
    });
    return startedDeployment(ctx, data.approveDeployment, 'approved');
  },

  async reject(ctx) {
    const data = await ctx.client.request(ops.Reject, {
      input: { deploymentId: arg(ctx, 'deployment'), comment: opt(ctx, 'comment') ?? null },
    });
    return startedDeployment(ctx, data.rejectDeployment, 'rejected');
  },

  async cancel(ctx) {
    const data = await ctx.client.request(ops.Cancel, { id: arg(ctx, 'deployment') });
    return startedDeployment(ctx, data.cancelDeployment, 'cancelled');
  },

  async 'notify list'(ctx) {
    const project = arg(ctx, 'project');
    const shown = opt(ctx, 'deliveries') === undefined ? 3 : parseCount(opt(ctx, 'deliveries')!, '--deliveries', 0, 100);
    const data = await ctx.client.request(ops.NotificationChannels, { project, first: shown });
    if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
    const channels = data.project.notificationChannels;
    if (ctx.out.json) {
      ctx.out.jsonValue(channels);
      return EXIT.OK;
    }
    if (channels.length === 0) {
      ctx.out.notice(`no notification channels in ${project}`);
      return EXIT.OK;
    }
    const p = ctx.out.out;
    const deliveryStyle = (s: string) => (s === 'DELIVERED' ? 'green' : s === 'FAILED' ? 'red' : 'yellow');
    ctx.out.data(
      table(
        ['ID', 'NAME', 'KIND', 'HOST', 'EVENTS', 'ENVIRONMENTS', 'LAST DELIVERY'],
        channels.map((c) => {
          const last = c.deliveries[0];
          return [
            c.id,
            c.name,
            c.kind,
            c.urlHost,
            c.events.join(','),
            c.environmentSlugs.length ? c.environmentSlugs.join(',') : '*',
            last
              ? `${p(deliveryStyle(last.status), last.status)} ${last.event} (${last.attempts} attempt${last.attempts === 1 ? '' : 's'}` +
                `${last.lastStatusCode !== null ? `, ${last.lastStatusCode}` : ''}${last.lastError ? `, ${last.lastError}` : ''})`
              : '-',
          ];
        }),
        p,
      ),
    );
    return EXIT.OK;
  },

  async 'freeze list'(ctx) {
    const project = arg(ctx, 'project');
    const data = await ctx.client.request(ops.FreezeWindows, { project });
    if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
    const windows = data.project.freezeWindows;
    if (ctx.out.json) {
      ctx.out.jsonValue(windows);
      return EXIT.OK;
    }
    if (windows.length === 0) {
      ctx.out.notice('no freeze windows');
      return EXIT.OK;
    }
    ctx.out.data(table(['ID', 'NAME', 'COVERS', 'WHEN', 'NEXT', 'ROLLBACK', 'REASON'], windows.map(freezeRow), ctx.out.out));
    return EXIT.OK;
  },

  async 'freeze create'(ctx) {
    const project = arg(ctx, 'project');
    const id = await projectId(ctx, project);
    const list = (name: string) =>
      opt(ctx, name)
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean) ?? null;
    const duration = opt(ctx, 'duration');
    const data = await ctx.client.request(ops.CreateFreezeWindow, {
      input: {
        projectId: id,
        name: opt(ctx, 'name')!,
        reason: opt(ctx, 'reason')!,
        startsAt: opt(ctx, 'starts')!,
        endsAt: opt(ctx, 'ends') ?? null,
        recurrence: opt(ctx, 'rrule') ?? null,
        durationMinutes: duration === undefined ? null : parseCount(duration, '--duration', 1),
        timeZone: opt(ctx, 'tz') ?? null,
        environmentSlugs: list('env'),
        environmentTypes: list('type') as never,
        allowRollback: ctx.options['no-rollback'] ? false : null,
      },
    });
    const w = data.createFreezeWindow;
    if (ctx.out.json) {
      ctx.out.jsonValue(w);
      return EXIT.OK;
    }
    ctx.out.data(w.id);
    const next = w.nextOccurrence;
    ctx.out.notice(
      `freeze window ${JSON.stringify(w.name)} created; ${next ? `next ${localTime(next.startsAt)} .. ${localTime(next.endsAt)}` : 'no occurrence remains'}`,
    );
    return EXIT.OK;
  },

  async 'notify add'(ctx) {
    const project = arg(ctx, 'project');
    const env = ctx.env;
    const url = opt(ctx, 'receiver') ?? env.STAGEPLANE_NOTIFY_URL;
    if (!url) throw new UsageError('notify add needs the receiver URL: set STAGEPLANE_NOTIFY_URL or pass --receiver', 'notify add');
    const list = (text: string | undefined) =>
      (text ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    const kind = (opt(ctx, 'kind') ?? 'WEBHOOK').toUpperCase();
    const kinds = enumValues('NotificationKind');
    if (!kinds.includes(kind)) throw new UsageError(`--kind takes ${kinds.join(' or ')}, not ${kind}`, 'notify add');
    const events = list(opt(ctx, 'events')).map((e) => e.toUpperCase());
    const known = enumValues('NotificationEvent');
    const unknown = events.filter((e) => !known.includes(e));
    if (events.length === 0 || unknown.length) {
      throw new UsageError(
        `--events takes events among ${known.join(', ')}${unknown.length ? `, not ${unknown.join(', ')}` : ''}`,
        'notify add',
      );
    }
    const data = await ctx.client.request(ops.CreateNotificationChannel, {
      input: {
        projectId: await projectId(ctx, project),
        name: arg(ctx, 'name'),
        kind: kind as never,
        url,
        events: events as never,
        environmentSlugs: list(opt(ctx, 'env')),
      },
    });
    const c = data.createNotificationChannel;
    if (ctx.out.json) ctx.out.jsonValue(c);
    else ctx.out.data(`${c.id}\t${c.name}: ${c.kind} to ${c.urlHost} on ${c.events.join(',')}`);
    return EXIT.OK;
  },

  async 'notify test'(ctx) {
    const data = await ctx.client.request(ops.TestNotificationChannel, { id: arg(ctx, 'channel') });
    const d = data.testNotificationChannel;
    if (ctx.out.json) ctx.out.jsonValue(d);
    else ctx.out.data(`test delivery ${d.id}: ${d.status} (see its attempts with notify list)`);
    return EXIT.OK;
  },

  async 'notify rm'(ctx) {
    const data = await ctx.client.request(ops.DeleteNotificationChannel, { id: arg(ctx, 'channel') });
    if (ctx.out.json) ctx.out.jsonValue({ deleted: data.deleteNotificationChannel });
    else ctx.out.data(`deleted notification channel ${data.deleteNotificationChannel}`);
    return EXIT.OK;
  },

  async 'freeze delete'(ctx) {
    const data = await ctx.client.request(ops.DeleteFreezeWindow, { id: arg(ctx, 'window') });
    if (ctx.out.json) ctx.out.jsonValue({ id: data.deleteFreezeWindow });
    else ctx.out.notice(`freeze window ${data.deleteFreezeWindow} deleted`);
    return EXIT.OK;
  },

  async members(ctx) {
    const project = arg(ctx, 'project');
    const data = await ctx.client.request(ops.Members, { project });
    if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
    if (ctx.out.json) {
      ctx.out.jsonValue(data.project);
      return EXIT.OK;
    }
    ctx.out.notice(`${data.project.slug} is ${data.project.visibility}`);
    if (data.project.members.length === 0) {
      ctx.out.notice('no grants: only global roles count here');
      return EXIT.OK;
    }
    ctx.out.data(
      table(
        ['GRANTEE', 'ROLES', 'GRANTED BY', 'SINCE'],
        data.project.members.map((m) => [m.subject ?? `group:${m.group}`, m.roles.join(','), m.grantedBy, localTime(m.createdAt)]),
        ctx.out.out,
      ),
    );
    return EXIT.OK;
  },

  async 'members grant'(ctx) {
    const grantee = granteeOf(ctx, 'members grant');
    const roles = (opt(ctx, 'roles') ?? '')
      .split(',')
      .map((r) => r.trim().toUpperCase())
      .filter(Boolean);
    const projectIdValue = await projectId(ctx, arg(ctx, 'project'));
    const data = await ctx.client.request(ops.GrantProjectRoles, {
      input: { projectId: projectIdValue, ...grantee, roles: roles as never },
    });
    const g = data.grantProjectRoles;
    if (ctx.out.json) ctx.out.jsonValue(g);
    else ctx.out.data(`${g.subject ?? `group:${g.group}`} now holds ${g.roles.join(', ')} in ${arg(ctx, 'project')}`);
    return EXIT.OK;
  },

  async 'members revoke'(ctx) {
    const grantee = granteeOf(ctx, 'members revoke');
    const projectIdValue = await projectId(ctx, arg(ctx, 'project'));
    const data = await ctx.client.request(ops.RevokeProjectRoles, { input: { projectId: projectIdValue, ...grantee } });
    const who = grantee.subject ?? `group:${grantee.group}`;
    if (ctx.out.json) ctx.out.jsonValue({ revoked: data.revokeProjectRoles });
    else if (data.revokeProjectRoles) ctx.out.data(`${who} no longer holds roles in ${arg(ctx, 'project')}`);
    else ctx.out.notice(`${who} held no grant in ${arg(ctx, 'project')}`);
    return data.revokeProjectRoles ? EXIT.OK : EXIT.REFUSED;
  },

  async visibility(ctx) {
    const visibility = arg(ctx, 'visibility').toUpperCase();
    if (visibility !== 'INTERNAL' && visibility !== 'PRIVATE') throw new UsageError('visibility must be INTERNAL or PRIVATE', 'visibility');
    const projectIdValue = await projectId(ctx, arg(ctx, 'project'));
    const data = await ctx.client.request(ops.SetProjectVisibility, { input: { projectId: projectIdValue, visibility } });
    if (ctx.out.json) ctx.out.jsonValue(data.setProjectVisibility);
    else ctx.out.data(`${data.setProjectVisibility.slug} is ${data.setProjectVisibility.visibility}`);
    return EXIT.OK;
  },

  async watch(ctx) {
    const after = opt(ctx, 'after-seq');
    return follow(ctx, arg(ctx, 'deployment'), after === undefined ? 0 : parseCount(after, '--after-seq'));
  },
};

/** --override-freeze REASON, as DeployInput/PromoteInput.overrideFreeze. */
function overrideFreeze(ctx: Ctx) {
  const reason = opt(ctx, 'override-freeze');
  return reason === undefined ? null : { reason };
}

function freezeRow(w: ResultOf<typeof ops.FreezeWindowFields>): string[] {
  const covers = [...w.environmentSlugs, ...w.environmentTypes].join(',') || 'every environment';
  const when = w.recurrence
    ? `${w.recurrence} (${w.durationMinutes} min, ${w.timeZone})`
    : `${localTime(w.startsAt)} .. ${localTime(w.endsAt)}`;
  const next = w.nextOccurrence ? `${localTime(w.nextOccurrence.startsAt)} .. ${localTime(w.nextOccurrence.endsAt)}` : '-';
  return [w.id, w.name, covers, when, next, w.allowRollback ? 'allowed' : 'refused', w.reason];
}

async function readSettings(ctx: Ctx, project: string, env: string) {
  const data = await ctx.client.request(ops.Settings, { project, env });
  if (!data.project) throw notFound(`No project with slug ${JSON.stringify(project)}`);
  if (!data.project.environment) throw notFound(`No environment ${JSON.stringify(env)} in project ${project}`);
  return data.project.environment;
}

function enumValues(name: string): string[] {
  const type = loadSchema().getType(name) as { getValues?: () => { name: string }[] } | undefined;
  return type?.getValues?.().map((v) => v.name) ?? [];
}
