// One per preview environment: a durable timer that archives the preview when it expires. Started
// (signal-with-start) by the push that makes the preview, inside its transaction, and signalled by
// every later push with the new expiry. Temporal keeps the timer, so no process restart forgets it.
// The signal is a hint: on waking the workflow acts on what the database says (a lost signal, or
// one sent before its push committed, costs at most an early wake-up).
// Deterministic: no clock but the workflow's, no I/O but activities.
import { condition, continueAsNew, proxyActivities, setHandler } from '@temporalio/workflow';
import type { PreviewActivities } from './activities/preview.ts';
import { previewCheckSignal, type PreviewExpiryInput } from './definitions.ts';

const activities = proxyActivities<PreviewActivities>({
  startToCloseTimeout: '2 minutes',
  // Retried until it works (the database or Temporal may be away for a while).
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
});

/** Wake-ups before the history is started afresh (continue-as-new) to keep it short. */
const ROUNDS_PER_RUN = 100;

export async function previewExpiryWorkflow(input: PreviewExpiryInput): Promise<string> {
  let checkAt = input.expiresAt;
  let signalled = false;
  // Registered before the first await: a signal sent the instant the workflow starts is kept.
  setHandler(previewCheckSignal, ({ checkAt: at }) => {
    checkAt = at;
    signalled = true;
  });
  for (let round = 0; round < ROUNDS_PER_RUN; round++) {
    const wait = checkAt - Date.now();
    if (wait > 0) {
      signalled = false;
      await condition(() => signalled, wait);
      if (signalled) continue; // a new hint: sleep until it (or look now, when it has passed)
    }
    const state = await activities.expirePreviewIfDue(input.environmentId);
    switch (state.outcome) {
      case 'missing':
      case 'kept':
        return state.outcome;
      case 'pending':
        checkAt = state.expiresAt;
        continue;
      case 'archived':
      case 'expired':
        await activities.cancelPreviewDeployments(input.environmentId);
        return state.outcome;
    }
  }
  return continueAsNew<typeof previewExpiryWorkflow>({ environmentId: input.environmentId, expiresAt: checkAt });
}
