// Workflows that were running when the code changed must replay with the new code. The plain
// names were recorded by the deployment workflow as it was before decisions were taken from the
// first moment (the workflow then requested approval itself and registered its handlers after its
// first activity); `remote-transitions-*` by the workflow as it was before its short database
// transitions became local activities, `local-transitions-*` right after
// (scripts/record-workflow-histories.ts; two of each still open: one approval of two, a wait
// timer). Replaying them with today's bundle fails on any nondeterminism. Stored as
// binary protobuf (History.encode): the SDK's historyFromJSON meets two protobufjs versions in
// this dependency tree and refuses the History type.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowBundle } from '../../workflows/worker.ts';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'workflow-histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.binpb'));

describe('replay of histories recorded by earlier workflow code', () => {
  it('has the histories: finished ones of every ending, and open ones (waiting for approvals, in a wait timer)', () => {
    expect(files.sort()).toEqual([
      'approval-expired.binpb',
      'approval-half-approved.binpb',
      'approval-invalidated-succeeded.binpb',
      'approval-rejected.binpb',
      'local-transitions-approved-succeeded.binpb',
      'local-transitions-half-approved-open.binpb',
      'local-transitions-push-succeeded.binpb',
      'local-transitions-running-cancelled.binpb',
      'local-transitions-verification-failed-rolled-back.binpb',
      'local-transitions-verification-passed.binpb',
      'local-transitions-wait-timer-open.binpb',
      'push-succeeded.binpb',
      'remote-transitions-approved-succeeded.binpb',
      'remote-transitions-half-approved-open.binpb',
      'remote-transitions-push-succeeded.binpb',
      'remote-transitions-running-cancelled.binpb',
      'remote-transitions-verification-failed-rolled-back.binpb',
      'remote-transitions-verification-passed.binpb',
      'remote-transitions-wait-timer-open.binpb',
      'running-cancelled.binpb',
    ]);
  });

  it('replays every one with the current workflow code', async () => {
    const bundle = await workflowBundle();
    for (const file of files) {
      const history = temporal.api.history.v1.History.decode(readFileSync(join(DIR, file)));
      await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, `replay-${file}`), file).resolves.toBeUndefined();
    }
  }, 120_000);

  // Turning OTEL_EXPORTER_OTLP_ENDPOINT on restarts workers with the tracing bundle: deployments
  // recorded without it must replay under it.
  it('replays every one with the tracing interceptors compiled in', async () => {
    const bundle = await workflowBundle(undefined, { tracing: true });
    for (const file of files) {
      const history = temporal.api.history.v1.History.decode(readFileSync(join(DIR, file)));
      await expect(Worker.runReplayHistory({ workflowBundle: bundle }, history, `replay-tracing-${file}`), file).resolves.toBeUndefined();
    }
  }, 120_000);
});
