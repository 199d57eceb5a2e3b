// The baseline workflow of bench/promotions.ts: starts, waits for one update, ends. No activities.
import { condition, defineUpdate, setHandler } from '@temporalio/workflow';

export const bareApprove = defineUpdate<string, []>('approve');

export async function bareWorkflow(): Promise<string> {
  let approved = false;
  setHandler(bareApprove, () => {
    approved = true;
    return 'APPROVED';
  });
  await condition(() => approved);
  return 'SUCCEEDED';
}
