// The activity of scheduled secret rotation (workflows/rotation.workflow.ts runs it on every tick
// of the rotation schedule, see workflows/rotation-schedule.ts). The tick itself — which values
// are due, each rotation or deferral in its own transaction, the deferral audit, the workflows to
// notify — is services/secret-rotation.ts; what stays here is Temporal's part: a heartbeat after
// each value. A value's failure never fails the tick (the service counts and logs it; the next
// tick tries again); any other error is left to the workflow's retry policy, as it was.
// Values are never returned, logged or put in Temporal's history: the result holds counts and the
// workflow ids of deployments to tell that their target's configuration changed.
import { Context } from '@temporalio/activity';
import * as secretRotation from '../../services/secret-rotation.ts';
import type { RotationTickResult, SecretRotationDeps } from '../../services/secret-rotation.ts';

export type { RotationTickResult } from '../../services/secret-rotation.ts';
export { DEFERRED_ACTION } from '../../services/secret-rotation.ts';

export interface RotationActivityDeps extends SecretRotationDeps {}

export function createRotationActivities(deps: RotationActivityDeps) {
  return {
    /** One tick of the rotation schedule. */
    async rotateDueSecrets(): Promise<RotationTickResult> {
      const ctx = activityContext();
      return secretRotation.rotateDueSecrets(deps, { afterEach: () => ctx?.heartbeat() });
    },
  };
}

/** The activity context when running as an activity (null when called directly, e.g. in tests). */
function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

export type RotationActivities = ReturnType<typeof createRotationActivities>;
