// The Temporal Schedule that drives scheduled secret rotation: every SECRET_ROTATION_INTERVAL_SECONDS
// it starts secretRotationWorkflow (workflows/rotation.workflow.ts) on the task queue, which runs
// one tick of the rotation activity (workflows/activities/rotation.ts, on services/secret-rotation.ts).
//
// Why a Schedule rather than one long-running scheduler workflow with continueAsNew:
// - each tick is a short workflow of a handful of history events, so a deploy that changes the
//   workflow code can never break the replay of a run in flight (a long-running loop would need
//   patching discipline for every change, or get stuck on a non-determinism error and silently
//   stop rotating), and there is no history to bound;
// - overlap (policy SKIP: never two ticks at once, whatever the number of workers), catch-up after
//   an outage, pause, trigger-now and the list of recent runs are Temporal's own, visible with
//   `temporal schedule describe --schedule-id secret-rotation-<task queue>` and in the Web UI;
// - the interval is data on the server: a worker that starts with another interval updates it.
// The id includes the task queue because the schedule starts its workflows there: two
// deployments of Stageplane sharing a namespace (or the test suite's servers) each get their own.
//
// Every worker process ensures the schedule at start-up, idempotently: it creates it, or finds it
// (ScheduleAlreadyRunning) and updates the interval if it differs. A schedule an operator paused
// stays paused.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

export const ROTATION_WORKFLOW = 'secretRotationWorkflow';
export const rotationScheduleId = (taskQueue: string) => `secret-rotation-${taskQueue}`;

export async function ensureRotationSchedule(
  client: Client,
  options: { taskQueue: string; intervalSeconds: number },
): Promise<'created' | 'updated' | 'unchanged'> {
  const scheduleId = rotationScheduleId(options.taskQueue);
  const spec = { intervals: [{ every: `${options.intervalSeconds}s` }], jitter: 0 };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: ROTATION_WORKFLOW,
    workflowId: `secret-rotation-${options.taskQueue}`,
    taskQueue: options.taskQueue,
    args: [] as [],
    // A tick that cannot finish (no worker on the queue) gives way to a later one.
    workflowExecutionTimeout: '10 minutes',
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  const handle = client.schedule.getHandle(scheduleId);
  const current = await handle.describe();
  const every = current.spec.intervals?.[0]?.every;
  const sameAction = current.action.type === 'startWorkflow' && current.action.workflowType === ROTATION_WORKFLOW;
  if (every === options.intervalSeconds * 1000 && current.spec.intervals?.length === 1 && sameAction) return 'unchanged';
  await handle.update((previous) => ({ ...previous, spec, action, state: { ...previous.state } }));
  return 'updated';
}
