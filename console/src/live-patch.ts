// What a deployment's live event changes on the page before the next read: its status, the
// step the event is about, and the overall progress. One rule for the pipeline's cards and the
// deployment page.

interface Patchable {
  status: string;
  progress: number;
  steps: readonly { name: string; status: string; progress: number }[];
}

interface StepEvent<Status> {
  type: string;
  status: Status;
  step: string | null;
  progress: number | null;
}

/**
 * `d` after `event`. With no steps known yet (read before the deployment started), the overall
 * progress stays as read, unless `progressWithoutSteps` is 'event': then a STEP_PROGRESS event's
 * own progress shows (the pipeline's cards).
 */
export function patchDeployment<D extends Patchable>(
  d: D,
  event: StepEvent<D['status']>,
  { progressWithoutSteps = 'keep' }: { progressWithoutSteps?: 'keep' | 'event' } = {},
): D {
  let steps = d.steps;
  if (event.step && event.type.startsWith('STEP_')) {
    const status = event.type === 'STEP_SUCCEEDED' ? 'SUCCEEDED' : event.type === 'STEP_FAILED' ? 'FAILED' : 'RUNNING';
    steps = steps.map((s) => (s.name === event.step ? { ...s, status, progress: event.progress ?? s.progress } : s));
  }
  const progress =
    event.status === 'SUCCEEDED'
      ? 1
      : steps.length > 0
        ? steps.reduce((sum, s) => sum + s.progress, 0) / steps.length
        : progressWithoutSteps === 'event' && event.type === 'STEP_PROGRESS' && event.progress != null
          ? event.progress
          : d.progress;
  // The step statuses set here are among every deployment step's: D's own step type.
  return { ...d, status: event.status, steps, progress } as D;
}
