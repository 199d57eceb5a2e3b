// Helpers for tests that drive deployments through the public API.
import { expect } from 'vitest';
import type { TestServer } from './server.ts';

export const DEPLOYMENT_FIELDS = `id status kind requestedBy requiredApprovals error progress workflowId
  approvals { approver decision comment }
  release { version commitSha }
  environment { slug }
  snapshot { digest settingsVersion settings databases secretVersions takenAt }
  steps { name status progress }
  events { seq type status step progress message }`;

export async function setupProject(server: TestServer, slug: string, opts: { stepSeconds?: number } = {}) {
  const created = await server.gql(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id environments { id slug } } }`, {
    i: { slug, name: slug },
  });
  expect(created.errors).toBeUndefined();
  const project = created.data.createProject as { id: string; environments: { id: string; slug: string }[] };
  const env = (s: string) => project.environments.find((e) => e.slug === s)!.id;
  // Fast simulated steps unless a test needs time to act while a deployment runs.
  for (const e of project.environments) {
    const r = await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: e.id, deployTarget: { provider: 'SIMULATED', stepSeconds: opts.stepSeconds ?? 0 } },
    });
    expect(r.errors).toBeUndefined();
  }
  return { id: project.id, env, dev: env('development'), staging: env('staging'), production: env('production') };
}

export async function push(server: TestServer, projectId: string, sha: string, branch = 'main', token?: string) {
  return server.gql(
    `mutation($i: RecordPushInput!) { recordPush(input: $i) { release { id version commitSha } deployments { id status environment { slug } } } }`,
    { i: { projectId, branch, commitSha: sha, message: `commit ${sha}`, author: 'dev' } },
    token,
  );
}

export async function deployment(server: TestServer, id: string) {
  const r = await server.gql(`query($id: ID!) { deployment(id: $id) { ${DEPLOYMENT_FIELDS} } }`, { id });
  expect(r.errors).toBeUndefined();
  return r.data.deployment;
}

/** Polls until the deployment's status is one of `statuses` (fails after `timeoutMs`). */
export async function waitForStatus(server: TestServer, id: string, statuses: string[], timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await deployment(server, id);
    if (statuses.includes(last.status)) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`deployment ${id} is ${last?.status}, not ${statuses.join('|')}, after ${timeoutMs} ms`);
}

/** The event log is 1..n with no gap and no duplicate. */
export function expectGaplessEvents(events: { seq: number }[]) {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
}

export const sha = (n: number) => n.toString(16).padStart(7, '0') + 'abcdef'.slice(0, 5);
