// Promotions: 100 concurrent SIMULATED deployments with zero-length steps through GraphQL
// (completions per second), and approve → APPROVED event latency at a graphql-ws subscriber,
// against a bare Temporal workflow start + update round trip in the same run.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { gqlAt, jwtFor, JWT_SECRET, percentile, printVerdicts, startRig, writeResult } from './lib.ts';
import { bareApprove } from './bare-workflow.ts';

const CONCURRENT = Number(process.env.BENCH_DEPLOYMENTS ?? 100);
const APPROVALS = Number(process.env.BENCH_APPROVALS ?? 30);

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
  // ---- 1. throughput: one push per project, all at once --------------------------------------
  const projects = [];
  for (let i = 0; i < CONCURRENT; i++) projects.push(await project(`bench-${i}`));
  const finished = new Map<string, number>();
  const allDone = new Promise<void>((resolve) => {
    for (let i = 0; i < CONCURRENT; i++) {
      subscribe(`subscription($s: String!) { projectEvents(projectSlug: $s) { deploymentId type } }`, { s: `bench-${i}` }, (d) => {
        if (d.projectEvents?.type === 'SUCCEEDED') {
          finished.set(d.projectEvents.deploymentId, performance.now());
          if (finished.size === CONCURRENT) resolve();
        }
      });
    }
  });
  await new Promise((r) => setTimeout(r, 1000)); // subscriptions established
  const t0 = performance.now();
  await Promise.all(
    projects.map((p, i) =>
      gqlAt(rig.api.url, rig.admin, `mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
        i: { projectId: p.id, branch: 'main', commitSha: (0x1000000 + i).toString(16) },
      }),
    ),
  );
  await allDone;
  const seconds = (performance.now() - t0) / 1000;
  const throughput = { deployments: CONCURRENT, seconds: +seconds.toFixed(2), completions_per_s: +(CONCURRENT / seconds).toFixed(1) };
  console.table([throughput]);

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
  const taskQueue = `bench-bare-${randomUUID().slice(0, 8)}`;
  const native = await NativeConnection.connect({ address: rig.temporal.address });
  const worker = await Worker.create({ connection: native, taskQueue, workflowsPath: join(import.meta.dirname, 'bare-workflow.ts') });
  const running = worker.run();
  const connection = await Connection.connect({ address: rig.temporal.address });
  const client = new Client({ connection });
  const bareRoundTrips: number[] = [];
  for (let i = 0; i < APPROVALS; i++) {
    const t = performance.now();
    const handle = await client.workflow.start('bareWorkflow', { taskQueue, workflowId: `bare-${randomUUID()}` });
    await handle.executeUpdate(bareApprove);
    bareRoundTrips.push(performance.now() - t);
    await handle.result();
  }
  bareRoundTrips.sort((a, b) => a - b);
  const tb = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENT }, async () => {
      const handle = await client.workflow.start('bareWorkflow', { taskQueue, workflowId: `bare-${randomUUID()}` });
      await handle.executeUpdate(bareApprove);
      await handle.result();
    }),
  );
  const bareSeconds = (performance.now() - tb) / 1000;
  worker.shutdown();
  await running;
  await connection.close();

  const approval = {
    approvals: APPROVALS,
    p50_ms: +percentile(approveLatencies, 50).toFixed(1),
    p99_ms: +percentile(approveLatencies, 99).toFixed(1),
    bare_start_update_p50_ms: +percentile(bareRoundTrips, 50).toFixed(1),
    bare_start_update_p99_ms: +percentile(bareRoundTrips, 99).toFixed(1),
  };
  const bare = { workflows: CONCURRENT, seconds: +bareSeconds.toFixed(2), completions_per_s: +(CONCURRENT / bareSeconds).toFixed(1) };
  console.table([approval]);
  console.table([
    {
      ...throughput,
      bare_completions_per_s: bare.completions_per_s,
      ratio: +(throughput.completions_per_s / bare.completions_per_s).toFixed(2),
    },
  ]);
  const ratio = +(throughput.completions_per_s / bare.completions_per_s).toFixed(2);
  const verdicts = [
    { target: `${CONCURRENT} concurrent deployments >= 0.5x bare workflows`, measured: `${ratio}x`, met: ratio >= 0.5 },
    { target: 'approve -> APPROVED at a subscriber, p50 < 100 ms', measured: `${approval.p50_ms} ms`, met: approval.p50_ms < 100 },
  ];
  printVerdicts('promotions', verdicts);
  writeResult('promotions', { target: 'approve→event p50 < 100 ms; deployments >= 0.5x bare', throughput, bare, approval, verdicts });
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
