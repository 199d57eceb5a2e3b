// What the event log says each deployment's insights instants are (db/schema/deployments.ts),
// worked out here in TypeScript from the events themselves, beside what the row holds: the check
// that appendDeploymentEvent and the migration's backfill keep the row true to the log.
import { INSIGHT_DECISION_EVENTS, INSIGHT_OUTCOME_EVENTS, isOneOf } from '../../domain/values.ts';

export type Query = (text: string) => Promise<Record<string, any>[]>;

export const INSTANT_COLUMNS = [
  'outcome_at',
  'release_created_at',
  'approval_requested_at',
  'approval_first_decided_at',
  'approval_decided_at',
] as const;
type Instants = Record<(typeof INSTANT_COLUMNS)[number], string | null>;

const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string | Date).toISOString());

/** Every deployment: its instants as the log says them (`expected`) and as its row holds them (`actual`). */
export async function instantsOfEveryDeployment(
  query: Query,
): Promise<{ id: string; status: string; expected: Instants; actual: Instants }[]> {
  const deployments = await query(
    `select d.id, d.status::text as status, r.created_at as release_at, ${INSTANT_COLUMNS.map((c) => `d.${c}`).join(', ')}
     from deployments d join releases r on r.id = d.release_id order by d.id`,
  );
  const events = await query(
    `select deployment_id, type::text as type, status::text as status, created_at from deployment_events order by deployment_id, seq`,
  );
  const byDeployment = new Map<string, Record<string, any>[]>();
  for (const e of events) {
    const log = byDeployment.get(e.deployment_id);
    if (log) log.push(e);
    else byDeployment.set(e.deployment_id, [e]);
  }
  return deployments.map((d) => {
    const log = byDeployment.get(d.id) ?? [];
    const outcome = log.filter((e) => isOneOf(INSIGHT_OUTCOME_EVENTS, e.type));
    const decisions = log
      .filter((e) => isOneOf(INSIGHT_DECISION_EVENTS, e.type) && e.status !== 'PENDING_APPROVAL')
      .map((e) => new Date(e.created_at).getTime())
      .sort((a, b) => a - b);
    if (outcome.length > 1) throw new Error(`deployment ${d.id} has ${outcome.length} outcome events`);
    const expected: Instants = {
      outcome_at: iso(outcome[0]?.created_at),
      release_created_at: outcome.length ? iso(d.release_at) : null,
      approval_requested_at: iso(log.find((e) => e.status === 'PENDING_APPROVAL')?.created_at),
      approval_first_decided_at: decisions.length ? iso(decisions[0]) : null,
      approval_decided_at: decisions.length ? iso(decisions.at(-1)) : null,
    };
    const actual = Object.fromEntries(INSTANT_COLUMNS.map((c) => [c, iso(d[c])])) as Instants;
    return { id: d.id, status: d.status, expected, actual };
  });
}
