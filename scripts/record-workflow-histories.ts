// `npx tsx scripts/record-workflow-histories.ts <prefix>`: records deployment workflow histories
// with the workflow code as it is now, into test/fixtures/workflow-histories/<prefix>-<name>.binpb,
// for test/unit/workflow-replay.test.ts. Run it BEFORE a change to the workflow, so that the
// replay test covers deployments that were running when the change shipped.
//
// Everything runs privately: a database on the local PostgreSQL, a Temporal dev server of its
// own, Stageplane as a child process (`server/main.ts all`); each scenario goes through the
// public API. Finished deployments and deployments still open (waiting for decisions, in a wait
// timer) are recorded. Stored as History.encode binary protobuf (the replay test says why).
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import protos from '@temporalio/proto';
import { gqlAt, JWT_SECRET, jwtFor, startRig } from '../bench/lib.ts';
import { until } from './lib/until.ts';

const prefix = process.argv[2];
if (!prefix || !/^[a-z0-9-]+$/.test(prefix)) {
  console.error('usage: tsx scripts/record-workflow-histories.ts <prefix, e.g. remote-transitions>');
  process.exit(2);
}
const OUT = join(import.meta.dirname, '..', 'test', 'fixtures', 'workflow-histories');

// The benches' rig: a database, a Temporal dev server and `server/main.ts all`, all private.
const rig = await startRig();
const { api, temporal } = rig;
const connection = await Connection.connect({ address: temporal.address });
const client = new Client({ connection, namespace: 'default' });
const admin = await jwtFor(JWT_SECRET, 'recorder', ['ADMIN', 'DEVELOPER', 'QA']);
const approvers = await Promise.all(['ann', 'bob'].map((s) => jwtFor(JWT_SECRET, s, ['APPROVER'])));

async function gql(query: string, variables: Record<string, unknown> = {}, token = admin) {
  const r = await gqlAt(api.url, token, query, variables);
  if (r.errors) throw new Error(`${query.slice(0, 60)}: ${JSON.stringify(r.errors)}`);
  return r.data;
}

const UPDATE_ENV = `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`;
async function project(slug: string, stepSeconds = 0) {
  const p = (
    await gql(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id environments { id slug } } }`, { i: { slug, name: slug } })
  ).createProject as { id: string; environments: { id: string; slug: string }[] };
  for (const e of p.environments) await gql(UPDATE_ENV, { i: { id: e.id, deployTarget: { provider: 'SIMULATED', stepSeconds } } });
  return { id: p.id, env: (s: string) => p.environments.find((e) => e.slug === s)!.id };
}
let shas = 0xabc000;
async function push(projectId: string): Promise<string> {
  const d = await gql(`mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
    i: { projectId, branch: 'main', commitSha: (shas++).toString(16) + 'f00d' },
  });
  return d.recordPush.deployments[0].id;
}
const promote = async (environmentId: string) =>
  (await gql(`mutation($i: PromoteInput!) { promote(input: $i) { id } }`, { i: { environmentId } })).promote.id as string;
const approve = (id: string, token: string) =>
  gql(`mutation($i: DecisionInput!) { approveDeployment(input: $i) { status } }`, { i: { deploymentId: id } }, token);
const get = async (id: string) =>
  (await gql(`query($id: ID!) { deployment(id: $id) { status workflowId events { type } } }`, { id })).deployment as {
    status: string;
    workflowId: string;
    events: { type: string }[];
  };
const waitFor = async (id: string, test: (d: Awaited<ReturnType<typeof get>>) => boolean) => {
  let last!: Awaited<ReturnType<typeof get>>;
  await until(`deployment ${id}`, async () => test((last = await get(id))), { timeoutMs: 60_000 });
  return last;
};
const ended = (d: { status: string }) => ['SUCCEEDED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED'].includes(d.status);

/** Writes the workflow's history as it stands (after its result, when `finished`). */
async function record(name: string, id: string, finished: boolean) {
  const d = await get(id);
  const handle = client.workflow.getHandle(d.workflowId);
  if (finished) await handle.result();
  else {
    // Open: wait until the workflow has no task outstanding, so the history ends on a completed task.
    await until(`${name} idle`, async () => (await handle.describe()).raw.pendingWorkflowTask == null, { timeoutMs: 30_000 });
  }
  const history = await handle.fetchHistory();
  const file = join(OUT, `${prefix}-${name}.binpb`);
  writeFileSync(file, protos.temporal.api.history.v1.History.encode(history).finish());
  console.log(`${name}: ${d.status}, ${d.events.map((e) => e.type).join(' ')} -> ${file} (${history.events?.length} history events)`);
}

let healthy = true;
const target = createServer((_req, res) => res.writeHead(healthy ? 200 : 500).end());
await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
const targetUrl = `http://127.0.0.1:${(target.address() as { port: number }).port}/healthz`;

try {
  // A push that deploys development through its SIMULATED steps.
  const a = await project('rec-push');
  const pushed = await push(a.id);
  await waitFor(pushed, ended);
  await record('push-succeeded', pushed, true);

  // Production (one approval), approved, then deployed.
  const staged = await promote(a.env('staging'));
  await waitFor(staged, ended);
  const prod = await promote(a.env('production'));
  await waitFor(prod, (d) => d.status === 'PENDING_APPROVAL');
  await approve(prod, approvers[0]!);
  await waitFor(prod, ended);
  await record('approved-succeeded', prod, true);

  // Verification: one release verified, the next fails it and is rolled back automatically.
  const v = await project('rec-verify');
  await gql(UPDATE_ENV, {
    i: {
      id: v.env('development'),
      deployTarget: {
        provider: 'SIMULATED',
        stepSeconds: 0,
        verification: { url: targetUrl, intervalSeconds: 0.5, successThreshold: 1, failureThreshold: 1 },
      },
      policy: { autoRollback: true },
    },
  });
  const good = await push(v.id);
  await waitFor(good, ended);
  await record('verification-passed', good, true);
  healthy = false;
  const bad = await push(v.id);
  await waitFor(bad, ended);
  healthy = true;
  await record('verification-failed-rolled-back', bad, true);

  // Cancelled while a step runs.
  const c = await project('rec-cancel', 5);
  const running = await push(c.id);
  await waitFor(running, (d) => d.events.some((e) => e.type === 'STEP_STARTED'));
  await gql(`mutation($id: ID!) { cancelDeployment(id: $id) { status } }`, { id: running });
  await waitFor(running, ended);
  await record('running-cancelled', running, true);

  // Still open: two approvals required, one given.
  await gql(UPDATE_ENV, { i: { id: a.env('production'), policy: { requiredApprovals: 2 } } });
  const half = await promote(a.env('production'));
  await waitFor(half, (d) => d.status === 'PENDING_APPROVAL');
  await approve(half, approvers[1]!);
  await waitFor(half, (d) => d.events.some((e) => e.type === 'APPROVED'));
  await record('half-approved-open', half, false);

  // Still open: in a wait timer before the queue.
  const w = await project('rec-wait');
  await gql(UPDATE_ENV, { i: { id: w.env('development'), policy: { waitTimerSeconds: 3600 } } });
  const waiting = await push(w.id);
  await waitFor(waiting, (d) => d.status === 'WAITING');
  await record('wait-timer-open', waiting, false);
} finally {
  target.close();
  await connection.close();
  await rig.close();
}
