// The activities of a preview's expiry workflow (workflows/preview.workflow.ts): the check that
// archives an expired preview (services/previews.ts), and the cancellation of the deployments an
// archived preview still has, with the worker's own Temporal client.
import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { Database } from '../../db/client.ts';
import { expirePreviewIfDue, type PreviewExpiryOutcome } from '../../services/previews.ts';
import { cancelUnfinishedDeployments } from '../client.ts';

export interface PreviewActivityDeps {
  db: Database;
  log: Logger;
}

export function createPreviewActivities(deps: PreviewActivityDeps) {
  return {
    expirePreviewIfDue: (environmentId: string): Promise<PreviewExpiryOutcome> =>
      expirePreviewIfDue(deps.db, { log: deps.log }, environmentId),
    /** Every unfinished deployment of the archived preview, cancelled; throws (and is retried) while Temporal refuses. */
    async cancelPreviewDeployments(environmentId: string): Promise<number> {
      return cancelUnfinishedDeployments(Context.current().client, deps.db, environmentId);
    },
  };
}

export type PreviewActivities = ReturnType<typeof createPreviewActivities>;
