// Promotions: 100 concurrent SIMULATED deployments with zero-length steps through GraphQL
// (completions per second) against 100 bare Temporal workflows in the same run, and approve →
// APPROVED event latency at a graphql-ws subscriber against a bare workflow start + update round
// trip. Each side gets a warm-up batch first (not counted), then ROUNDS alternating rounds
// (Stageplane, bare, Stageplane, …): the ratio is the median of the rounds' ratios, so one
// side's first (cold) batch or a passing load spike on the shared machine does not decide it.
// SQL statements per deployment: the driver's logger (/metrics, as bench/query.ts counts them),
// less what the process sends on its own while idle.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { counter, gqlAt, jwtFor, JWT_SECRET, median, percentile, printVerdicts, startRig, writeResult } from './lib.ts';
import { bareApprove } from './bare-workflow.ts';

const CONCURRENT = Number(process.env.BENCH_DEPLOYMENTS ?? 100);
const APPROVALS = Number(process.env.BENCH_APPROVALS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const IDLE_MS = 3000;
const STATEMENTS = 'stageplane_sql_statements_total';

const rig = await startRig();
// A connection takes at most 100 subscriptions: one connection per 50, like dashboards would.
const clients: ReturnType<typeof createClient>[] = [];
let opened = 0;
const connection = () => {
  if (opened++ % 50 === 0) {
    clients.push(
      createClient({
        url: rig.api.url.replace('http', 'ws') + '/graphql',
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${rig.admin}` },
        lazy: false,
      }),
    );
  }
  return clients.at(-1)!;
};
const subscribe = (query: string, variables: Record<string, unknown>, onEvent: (e: any) => void) =>
  connection().subscribe(
    { query, variables },
    { next: (r) => onEvent((r.data as any) ?? {}), error: (e) => console.error('subscription error', e), complete: () => {} },
  );

async function project(slug: string) {
  const r = await gqlAt(
    rig.api.url,
    rig.admin,
    `mutation($i: CreateProjectInput!) { createProject(input: $i) { id environments { id slug } } }`,
    {
      i: { slug, name: slug },
    },
  );
  const p = r.data.createProject;
  for (const e of p.environments) {
    await gqlAt(rig.api.url, rig.admin, `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: e.id, deployTarget: { provider: 'SIMULATED', stepSeconds: 0 } },
    });
  }
  return { id: p.id as string, env: (s: string) => p.environments.find((e: any) => e.slug === s).id as string };
}

try {
  // ---- baseline worker: up from the start, idle while Stageplane runs -------------------------
  const taskQueue = `bench-bare-${randomUUID().slice(0, 8)}`;
  const native = await NativeConnection.connect({ address: rig.temporal.address });
  const worker = await Worker.create({ connection: native, taskQueue, workflowsPath: join(import.meta.dirname, 'bare-workflow.ts') });
  const running = worker.run();
  const temporal = await Connection.connect({ address: rig.temporal.address });
  const client = new Client({ connection: temporal });

  // ---- 1. throughput: one push per project, all at once; warm-up, then alternating rounds ------
  const projects: Awaited<ReturnType<typeof project>>[] = [];
  for (let i = 0; i < CONCURRENT; i++) projects.push(await project(`bench-${i}`));
  // SUCCEEDED events of the batch under way (a batch starts only when the last one is done).
  let succeeded = 0;
  let batchDone = () => {};
  for (let i = 0; i < CONCURRENT; i++) {
    subscribe(`subscription($s: String!) { projectEvents(projectSlug: $s) { deploymentId type } }`, { s: `bench-${i}` }, (d) => {
      if (d.projectEvents?.type === 'SUCCEEDED' && ++succeeded === CONCURRENT) batchDone();
    });
  }
  await new Promise((r) => setTimeout(r, 1000)); // subscriptions established
  let pushes = 0;
  /** One push per project at once, until every deployment SUCCEEDED: seconds and SQL statements sent. */
  async function stageplaneBatch() {
    succeeded = 0;
    const allDone = new Promise<void>((resolve) => (batchDone = resolve));
    const batch = pushes++;
    const before = await counter(rig.api.url, STATEMENTS);
    const t0 = performance.now();
    await Promise.all(
      projects.map((p, i) =>
        gqlAt(rig.api.url, rig.admin, `mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
          i: { projectId: p.id, branch: 'main', commitSha: (0x1000000 + batch * CONCURRENT + i).toString(16) },
        }),
      ),
    );
    await allDone;
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, statements: (await counter(rig.api.url, STATEMENTS)) - before };
  }
  async function bareBatch() {
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENT }, async () => {
        const handle = await client.workflow.start('bareWorkflow', { taskQueue, workflowId: `bare-${randomUUID()}` });
        await handle.executeUpdate(bareApprove);
        await handle.result();
      }),
    );
    return (performance.now() - t0) / 1000;
  }
  // Warm-up on each side, not counted: the first deployments pay for module loading, JIT, the
  // pool's connections and Temporal's first task queues; the bare worker gets the same.
  await stageplaneBatch();
  await bareBatch();
  // What the process sends on its own (the notification relay's poll), per second, idle.
  const idleBefore = await counter(rig.api.url, STATEMENTS);
  const tIdle = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const idlePerSecond = ((await counter(rig.api.url, STATEMENTS)) - idleBefore) / ((performance.now() - tIdle) / 1000);
  const rounds: { round: number; stageplane_per_s: number; bare_per_s: number; ratio: number; sql_per_deployment: number }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const s = await stageplaneBatch();
    const bareSeconds = await bareBatch();
    const stageplanePerS = CONCURRENT / s.seconds;
    const barePerS = CONCURRENT / bareSeconds;
    rounds.push({
      round,
      stageplane_per_s: +stageplanePerS.toFixed(1),
      bare_per_s: +barePerS.toFixed(1),
      ratio: +(stageplanePerS / barePerS).toFixed(2),
      sql_per_deployment: +((s.statements - idlePerSecond * s.seconds) / CONCURRENT).toFixed(1),
    });
  }
  console.table(rounds);
  const throughput = {
    deployments: CONCURRENT,
    rounds: ROUNDS,
    completions_per_s: median(rounds.map((r) => r.stageplane_per_s)),
    sql_per_deployment: median(rounds.map((r) => r.sql_per_deployment)),
  };
  const bare = { workflows: CONCURRENT, completions_per_s: median(rounds.map((r) => r.bare_per_s)) };
  const ratio = median(rounds.map((r) => r.ratio));

  // ---- 2. approve → APPROVED at a subscriber ----------------------------------------------------
  const approver = await jwtFor(JWT_SECRET, 'approver', ['APPROVER']);
  const approveLatencies: number[] = [];
  for (let i = 0; i < APPROVALS; i++) {
    const p = projects[i]!;
    const staged = await gqlAt(rig.api.url, rig.admin, `mutation($i: PromoteInput!) { promote(input: $i) { id } }`, {
      i: { environmentId: p.env('staging') },
    });
    await waitStatus(staged.data.promote.id, ['SUCCEEDED']);
    const prod = await gqlAt(rig.api.url, rig.admin, `mutation($i: PromoteInput!) { promote(input: $i) { id } }`, {
      i: { environmentId: p.env('production') },
    });
    const id = prod.data.promote.id;
    await waitStatus(id, ['PENDING_APPROVAL']);
    let sent = 0;
    const approved = new Promise<number>((resolve) => {
      subscribe(`subscription($d: ID!) { deploymentEvents(deploymentId: $d, afterSeq: 0) { type } }`, { d: id }, (d) => {
        if (d.deploymentEvents?.type === 'APPROVED') resolve(performance.now() - sent);
      });
    });
    await new Promise((r) => setTimeout(r, 100));
    sent = performance.now();
    await gqlAt(rig.api.url, approver, `mutation($i: DecisionInput!) { approveDeployment(input: $i) { status } }`, {
      i: { deploymentId: id },
    });
    approveLatencies.push(await approved);
  }
  approveLatencies.sort((a, b) => a - b);

  // ---- baseline: a bare workflow, started and sent one update -----------------------------------
  const bareRoundTrips: number[] = [];
  for (let i = 0; i < APPROVALS; i++) {
    const t = performance.now();
    const handle = await client.workflow.start('bareWorkflow', { taskQueue, workflowId: `bare-${randomUUID()}` });
    await handle.executeUpdate(bareApprove);
    bareRoundTrips.push(performance.now() - t);
    await handle.result();
  }
  bareRoundTrips.sort((a, b) => a - b);
  worker.shutdown();
  await running;
  await temporal.close();

  const approval = {
    approvals: APPROVALS,
    p50_ms: +percentile(approveLatencies, 50).toFixed(1),
    p99_ms: +percentile(approveLatencies, 99).toFixed(1),
    bare_start_update_p50_ms: +percentile(bareRoundTrips, 50).toFixed(1),
    bare_start_update_p99_ms: +percentile(bareRoundTrips, 99).toFixed(1),
  };
  console.table([approval]);
  console.table([
    {
      deployments: CONCURRENT,
      rounds: ROUNDS,
      completions_per_s_median: throughput.completions_per_s,
      bare_completions_per_s_median: bare.completions_per_s,
      ratio_median: ratio,
      sql_per_deployment_median: throughput.sql_per_deployment,
    },
  ]);
  const verdicts = [
    {
      target: `${CONCURRENT} concurrent deployments >= 0.5x bare workflows`,
      measured: `${ratio}x (median of ${ROUNDS} rounds)`,
      met: ratio >= 0.5,
    },
    { target: 'SQL statements per deployment', measured: String(throughput.sql_per_deployment), met: null },
    { target: 'approve -> APPROVED at a subscriber, p50 < 100 ms', measured: `${approval.p50_ms} ms`, met: approval.p50_ms < 100 },
  ];
  printVerdicts('promotions', verdicts);
  writeResult('promotions', {
    target: 'approve→event p50 < 100 ms; deployments >= 0.5x bare',
    throughput,
    bare,
    ratio,
    rounds,
    idle_statements_per_s: +idlePerSecond.toFixed(1),
    approval,
    verdicts,
  });
} finally {
  await Promise.all(clients.map((c) => c.dispose()));
  await rig.close();
}

async function waitStatus(id: string, statuses: string[]) {
  for (;;) {
    const r = await gqlAt(rig.api.url, rig.admin, `query($id: ID!) { deployment(id: $id) { status } }`, { id });
    if (statuses.includes(r.data.deployment.status)) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}
