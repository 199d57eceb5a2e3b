// Notifications must not slow approvals: approve → APPROVED event latency at a graphql-ws
// subscriber, for projects without channels and projects with 10 channels each (WEBHOOK and
// SLACK, hearing every event, a receiver on 127.0.0.1 that takes 50 ms to answer), interleaved in
// the same run. Prints both, the ratio, and that every delivery went out.
import { createServer } from 'node:http';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { gqlAt, jwtFor, JWT_SECRET, percentile, printVerdicts, startRig, writeResult } from './lib.ts';

const APPROVALS = Number(process.env.BENCH_APPROVALS ?? 20);
const CHANNELS = 10;
const EVENTS = [
  'APPROVAL_REQUESTED',
  'DEPLOYMENT_SUCCEEDED',
  'DEPLOYMENT_FAILED',
  'DEPLOYMENT_REJECTED',
  'DEPLOYMENT_EXPIRED',
  'DEPLOYMENT_ROLLED_BACK',
];

let received = 0;
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () =>
    setTimeout(() => {
      received++;
      res.writeHead(200).end();
    }, 50),
  );
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;

const rig = await startRig({ WEBHOOK_SECRET: 'bench-webhook-secret-0123456789' });
const ws = createClient({
  url: rig.api.url.replace('http', 'ws') + '/graphql',
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${rig.admin}` },
  lazy: false,
});
const gql = (query: string, variables: Record<string, unknown> = {}, token = rig.admin) => gqlAt(rig.api.url, token, query, variables);

async function project(slug: string, channels: number) {
  const r = await gql(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id environments { id slug } } }`, {
    i: { slug, name: slug },
  });
  const p = r.data.createProject;
  for (const e of p.environments) {
    await gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: e.id, deployTarget: { provider: 'SIMULATED', stepSeconds: 0 } },
    });
  }
  for (let c = 0; c < channels; c++) {
    const made = await gql(`mutation($i: CreateNotificationChannelInput!) { createNotificationChannel(input: $i) { id } }`, {
      i: { projectId: p.id, name: `c${c}`, kind: c % 2 ? 'SLACK' : 'WEBHOOK', url: `${hook}/${slug}/${c}`, events: EVENTS },
    });
    if (made.errors) throw new Error(JSON.stringify(made.errors));
  }
  return { id: p.id as string, env: (s: string) => p.environments.find((e: any) => e.slug === s).id as string };
}

async function waitStatus(id: string, statuses: string[]) {
  for (;;) {
    const r = await gql(`query($id: ID!) { deployment(id: $id) { status } }`, { id });
    if (statuses.includes(r.data.deployment.status)) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Push, staging, production PENDING_APPROVAL, then the approve → APPROVED latency in ms. */
async function approveLatency(p: Awaited<ReturnType<typeof project>>, sha: string, approver: string): Promise<number> {
  const pushed = await gql(`mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
    i: { projectId: p.id, branch: 'main', commitSha: sha },
  });
  await waitStatus(pushed.data.recordPush.deployments[0].id, ['SUCCEEDED']);
  const staged = await gql(`mutation($i: PromoteInput!) { promote(input: $i) { id } }`, { i: { environmentId: p.env('staging') } });
  await waitStatus(staged.data.promote.id, ['SUCCEEDED']);
  const prod = await gql(`mutation($i: PromoteInput!) { promote(input: $i) { id } }`, { i: { environmentId: p.env('production') } });
  const id = prod.data.promote.id;
  await waitStatus(id, ['PENDING_APPROVAL']);
  let sent = 0;
  const approved = new Promise<number>((resolve) => {
    const stop = ws.subscribe(
      { query: `subscription($d: ID!) { deploymentEvents(deploymentId: $d, afterSeq: 0) { type } }`, variables: { d: id } },
      {
        next: (r) => {
          if ((r.data as any)?.deploymentEvents?.type === 'APPROVED') {
            resolve(performance.now() - sent);
            stop();
          }
        },
        error: (e) => console.error('subscription error', e),
        complete: () => {},
      },
    );
  });
  await new Promise((r) => setTimeout(r, 100));
  sent = performance.now();
  await gql(`mutation($i: DecisionInput!) { approveDeployment(input: $i) { status } }`, { i: { deploymentId: id } }, approver);
  return approved;
}

try {
  const approver = await jwtFor(JWT_SECRET, 'approver', ['APPROVER']);
  const quiet: number[] = [];
  const loud: number[] = [];
  for (let i = 0; i < APPROVALS; i++) {
    // Interleaved, so both sides see the same machine, database and Temporal state.
    const a = await project(`quiet-${i}`, 0);
    const b = await project(`loud-${i}`, CHANNELS);
    quiet.push(await approveLatency(a, (0x2000000 + i).toString(16), approver));
    loud.push(await approveLatency(b, (0x3000000 + i).toString(16), approver));
  }
  quiet.sort((x, y) => x - y);
  loud.sort((x, y) => x - y);
  // Every loud project made 10 deliveries of dev, staging SUCCEEDED and production APPROVAL_REQUESTED.
  const expected = APPROVALS * CHANNELS * 3;
  const t0 = performance.now();
  while (received < expected && performance.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 200));
  const result = {
    approvals_each: APPROVALS,
    channels_per_loud_project: CHANNELS,
    without_p50_ms: +percentile(quiet, 50).toFixed(1),
    without_p99_ms: +percentile(quiet, 99).toFixed(1),
    with_p50_ms: +percentile(loud, 50).toFixed(1),
    with_p99_ms: +percentile(loud, 99).toFixed(1),
    ratio_p50: +(percentile(loud, 50) / percentile(quiet, 50)).toFixed(2),
    ratio_p99: +(percentile(loud, 99) / percentile(quiet, 99)).toFixed(2),
    deliveries_received: received,
    deliveries_expected_at_least: expected,
  };
  console.table([result]);
  // "Do not slow": within the run-to-run noise of this bench (±20 % at p50 on a quiet machine).
  const verdicts = [
    {
      target: 'approve -> APPROVED p50, 10 channels vs none <= 1.2x',
      measured: `${result.ratio_p50}x (${result.with_p50_ms} vs ${result.without_p50_ms} ms)`,
      met: result.ratio_p50 <= 1.2,
    },
    {
      target: 'approve -> APPROVED p99, 10 channels vs none (no target)',
      measured: `${result.ratio_p99}x (${result.with_p99_ms} vs ${result.without_p99_ms} ms)`,
      met: null,
    },
    { target: 'every delivery received', measured: `${received} of at least ${expected}`, met: received >= expected },
  ];
  printVerdicts('notifications', verdicts);
  writeResult('notifications', { target: 'ratio_p50 <= 1.2 (notifications do not slow approve → APPROVED)', ...result, verdicts });
} finally {
  await ws.dispose();
  await rig.close();
  await new Promise((r) => receiver.close(r));
}
