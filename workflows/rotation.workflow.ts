// One tick of scheduled secret rotation, started by the Temporal Schedule of the task queue
// (workflows/rotation-schedule.ts). The activity (services/secret-rotation.ts) finds the due values and rotates or defers each;
// the workflow then tells deployments awaiting approval in the affected environments that their
// target's configuration changed (a secret version is part of a deployment's snapshot).
// Deterministic: no clock, randomness or I/O here; a value never passes through it.
import { getExternalWorkflowHandle, proxyActivities } from '@temporalio/workflow';
import type { RotationActivities, RotationTickResult } from './activities/rotation.ts';
import { configChangedSignal } from './definitions.ts';

const activities = proxyActivities<RotationActivities>({
  // A tick may hold many values; the activity heartbeats after each one.
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

export interface SecretRotationSummary extends Omit<RotationTickResult, 'notify'> {
  notified: number;
}

export async function secretRotationWorkflow(): Promise<SecretRotationSummary> {
  const { notify, ...counts } = await activities.rotateDueSecrets();
  let notified = 0;
  for (const workflowId of notify) {
    try {
      await getExternalWorkflowHandle(workflowId).signal(configChangedSignal);
      notified += 1;
    } catch {
      // The deployment ended meanwhile; its workflow re-checks the snapshot anyway before it runs.
    }
  }
  return { ...counts, notified };
}
