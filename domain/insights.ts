// Insights (DORA measures) over a time range: the pure rules around the SQL of
// services/insights.ts — which ranges may be asked for, and the figures derived from the counts.

/** The longest range Project.insights answers (the contract: over 366 days is BAD_USER_INPUT). */
export const MAX_INSIGHT_DAYS = 366;
const DAY_MS = 86_400_000;

/** Why [from, to) is not a range insights answers, or null. */
export function insightRangeProblem(from: Date, to: Date): string | null {
  if (from.getTime() >= to.getTime()) return 'must be after from';
  if (to.getTime() - from.getTime() > MAX_INSIGHT_DAYS * DAY_MS) return `the range from..to must be at most ${MAX_INSIGHT_DAYS} days`;
  return null;
}

/** Successful deployments per day over [from, to): the range's length in days, fractions included. */
export const perDay = (successes: number, from: Date, to: Date) => successes / ((to.getTime() - from.getTime()) / DAY_MS);

/** failures / deployments; null when there were none (nothing was measured, which is not 0). */
export const changeFailureRate = (failures: number, deployments: number) => (deployments === 0 ? null : failures / deployments);
