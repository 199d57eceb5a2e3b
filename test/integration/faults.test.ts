// The fault drill (`npm run faults`, scripts/fault-drill.ts) as a test: PostgreSQL restarted and
// the local Temporal killed under a running deployment and open subscriptions. It runs its own
// PostgreSQL cluster and Stageplane process; the shared test server is not touched.
import { describe, expect, it } from 'vitest';
import { formatReport, runFaultDrill } from '../../scripts/fault-drill.ts';

describe('faults', () => {
  it('readyz turns 503 then 200, the deployment finishes, and subscribers miss nothing', async () => {
    const report = await runFaultDrill();
    const failed = report.checks.filter((c) => !c.ok);
    expect(failed, `${formatReport(report)}\n\n${report.logTail}`).toEqual([]);
    expect(report.checks.map((c) => c.name)).toEqual([
      '/readyz answered 503 naming the database while PostgreSQL was down',
      '/readyz answered 200 again after PostgreSQL came back',
      '/readyz answered 503 naming temporal while the dev server was down',
      'the supervisor restarted the Temporal dev server',
      '/readyz answered 200 again after Temporal came back',
      'the deployment SUCCEEDED',
      'its event log is seq 1..n with no gap or duplicate',
      'each step started once',
      'no step progress was recorded twice',
      'projectEvents (live only) subscriber got seq 1..n, each once, in order',
      'graphql-ws subscriber got seq 1..n, each once, in order',
      'SSE subscriber got seq 1..n, each once, in order',
      'CLI follow subscriber got seq 1..n, each once, in order',
    ]);
    expect(report.postgres.to503).not.toBeNull();
    expect(report.temporal.to503).not.toBeNull();
  }, 600_000);
});
