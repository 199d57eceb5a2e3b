// The pipeline query (a project's environments with settings, policy, current release and active
// deployment) against real PostgreSQL, vs a bare Yoga answering the same JSON from memory.
// Prints rps, latency p50/p99, the ratio and SQL statements per request.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort } from '../server/temporal.ts';
import { startIssuer } from '../test/support/oidc-issuer.ts';
import { counter, gqlAt, jwtFor, JWT_SECRET, startRig, writeResult } from './lib.ts';

const PIPELINE = `query Pipeline($slug: String!) { project(slug: $slug) { id name environments {
  id slug name type position frozen
  settings { version logLevel rateLimit { enabled requestsPerMinute } dataPolicy featureFlags { key enabled } }
  policy { trigger requiredApprovals approverRoles deployerRoles }
  currentRelease { version commitSha }
  activeDeployment { id status progress kind }
} } }`;
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = [1, 10, 50];

async function waitTerminal(url: string, token: string, id: string) {
  for (;;) {
    const r = await gqlAt(url, token, `query($id: ID!) { deployment(id: $id) { status } }`, { id });
    if (['SUCCEEDED', 'FAILED', 'PENDING_APPROVAL'].includes(r.data.deployment.status)) return r.data.deployment.status;
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function seed(url: string, token: string) {
  const p = await gqlAt(url, token, `mutation { createProject(input: { slug: "bench", name: "Bench" }) { id environments { id slug } } }`);
  const project = p.data.createProject;
  const env = (s: string) => project.environments.find((e: any) => e.slug === s).id;
  for (const e of project.environments) {
    await gqlAt(url, token, `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: e.id, deployTarget: { provider: 'SIMULATED', stepSeconds: 0 } },
    });
  }
  await gqlAt(url, token, `mutation($i: UpdateEnvironmentSettingsInput!) { updateEnvironmentSettings(input: $i) { id } }`, {
    i: {
      environmentId: env('development'),
      patch: {
        featureFlags: [
          { key: 'checkout', enabled: true },
          { key: 'search', enabled: true },
        ],
      },
    },
  });
  for (const sha of ['b0000001', 'b0000002', 'b0000003']) {
    const r = await gqlAt(url, token, `mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
      i: { projectId: project.id, branch: 'main', commitSha: sha },
    });
    await waitTerminal(url, token, r.data.recordPush.deployments[0].id);
  }
  const s = await gqlAt(url, token, `mutation($i: PromoteInput!) { promote(input: $i) { id } }`, { i: { environmentId: env('staging') } });
  await waitTerminal(url, token, s.data.promote.id);
  const pr = await gqlAt(url, token, `mutation($i: PromoteInput!) { promote(input: $i) { id } }`, {
    i: { environmentId: env('production') },
  });
  await waitTerminal(url, token, pr.data.promote.id); // stays PENDING_APPROVAL: an active deployment
}

async function load(url: string, connections: number, headers: Record<string, string>) {
  const body = JSON.stringify({ query: PIPELINE, variables: { slug: 'bench' } });
  const r = await autocannon({
    url: `${url}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    connections,
    duration: DURATION,
  });
  if (r.errors || r.non2xx) throw new Error(`${r.errors} errors, ${r.non2xx} non-2xx responses`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total };
}

// BENCH_TOKEN=oidc: the load's bearer is an RS256 token of a real OIDC issuer on 127.0.0.1
// (OIDC_ISSUER), so the figure includes its routing and the verified-token cache (server/oidc.ts).
const oidc = process.env.BENCH_TOKEN === 'oidc' ? await startIssuer([{ alg: 'RS256', kid: 'bench' }]) : null;
const rig = await startRig(oidc ? { OIDC_ISSUER: oidc.url, OIDC_AUDIENCE: 'stageplane-bench' } : {});
const rows: Record<string, unknown>[] = [];
try {
  const token = oidc
    ? await oidc.token({ sub: 'bench', aud: 'stageplane-bench', roles: ['ADMIN', 'DEVELOPER', 'QA'] })
    : await jwtFor(JWT_SECRET, 'bench', ['ADMIN', 'DEVELOPER', 'QA']);
  await seed(rig.api.url, token);
  const answer = await gqlAt(rig.api.url, token, PIPELINE, { slug: 'bench' });
  if (answer.errors) throw new Error(JSON.stringify(answer.errors));
  const file = join(tmpdir(), 'stageplane-bench-pipeline.json');
  writeFileSync(file, JSON.stringify(answer.data));
  const port = await freePort();
  const bare = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'bare-yoga.ts'), String(port), file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((res) => bare.stdout!.once('data', () => res()));
  const bareUrl = `http://127.0.0.1:${port}`;
  const same = await (
    await fetch(`${bareUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: PIPELINE, variables: { slug: 'bench' } }),
    })
  ).json();
  if (JSON.stringify(same) !== JSON.stringify({ data: answer.data })) throw new Error('the baseline does not answer the same JSON');

  // SQL statements per request, counted by the driver's logger (/metrics).
  const before = await counter(rig.api.url, 'stageplane_sql_statements_total');
  for (let i = 0; i < 50; i++) await gqlAt(rig.api.url, token, PIPELINE, { slug: 'bench' });
  const perRequest = ((await counter(rig.api.url, 'stageplane_sql_statements_total')) - before) / 50;

  for (const connections of CONNECTIONS) {
    await load(rig.api.url, connections, { authorization: `Bearer ${token}` }); // warm-up pass skipped below
    const ours = await load(rig.api.url, connections, { authorization: `Bearer ${token}` });
    const base = await load(bareUrl, connections, {});
    rows.push({
      connections,
      rps: Math.round(ours.rps),
      p50_ms: ours.p50,
      p99_ms: ours.p99,
      bare_rps: Math.round(base.rps),
      bare_p50_ms: base.p50,
      bare_p99_ms: base.p99,
      ratio: Number((ours.rps / base.rps).toFixed(2)),
      sql_per_request: perRequest,
    });
    console.table(rows);
  }
  bare.kill();
  writeResult(oidc ? 'query-oidc' : 'query', {
    durationSeconds: DURATION,
    token: oidc ? 'OIDC (RS256, OIDC_ISSUER)' : 'JWT_SECRET (HS256)',
    target: 'ratio >= 0.5, <= 2 SQL statements',
    rows,
  });
} finally {
  await rig.close();
  await oidc?.stop();
}
