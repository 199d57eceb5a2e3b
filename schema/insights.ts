// Project.insights: parse the range, call services/insights.ts, expose what it computed.
import { InsightsArgsSchema, parseInput } from '../domain/validation.ts';
import { projectInsights, type InsightBucket, type Insights, type Percentiles } from '../services/insights.ts';
import { builder } from './builder.ts';
import { scopeOf } from './context.ts';
import { ProjectRef } from './projects.ts';

const PercentilesRef = builder.objectRef<Percentiles>('Percentiles').implement({
  description: "PostgreSQL's percentile_cont (linear interpolation); null when nothing was measured.",
  fields: (t) => ({
    p50: t.exposeFloat('p50', { nullable: true }),
    p90: t.exposeFloat('p90', { nullable: true }),
  }),
});

const InsightBucketRef = builder.objectRef<InsightBucket>('InsightBucket').implement({
  fields: (t) => ({
    day: t.exposeString('day', { description: 'YYYY-MM-DD, UTC' }),
    deployments: t.exposeInt('deployments'),
    failures: t.exposeInt('failures'),
  }),
});

const InsightsRef = builder.objectRef<Insights>('Insights').implement({
  fields: (t) => ({
    environment: t.exposeString('environment'),
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime' }),
    deployments: t.exposeInt('deployments', { description: 'finished ones: SUCCEEDED + FAILED (+ rolled back)' }),
    successes: t.exposeInt('successes'),
    failures: t.exposeInt('failures', { description: 'FAILED, including failed verification' }),
    rollbacks: t.exposeInt('rollbacks'),
    deploymentsPerDay: t.exposeFloat('deploymentsPerDay', { description: 'SUCCEEDED per day over the range' }),
    leadTimeSeconds: t.expose('leadTimeSeconds', { type: PercentilesRef, description: 'release recorded (push) -> SUCCEEDED here' }),
    changeFailureRate: t.exposeFloat('changeFailureRate', { nullable: true, description: 'failures / deployments; null when none' }),
    timeToRestoreSeconds: t.expose('timeToRestoreSeconds', {
      type: PercentilesRef,
      description: 'a FAILED deployment -> the next SUCCEEDED one here',
    }),
    approvalWaitSeconds: t.expose('approvalWaitSeconds', { type: PercentilesRef, description: 'PENDING_APPROVAL -> decided' }),
    series: t.expose('series', { type: [InsightBucketRef], description: 'one per UTC day in the range' }),
  }),
});

builder.drizzleObjectField(ProjectRef, 'insights', (t) =>
  t.field({
    type: InsightsRef,
    description: 'DORA and pipeline metrics for one environment over [from, to).',
    args: {
      environment: t.arg.string({ required: true }),
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
    },
    resolve: (project, args, ctx) => projectInsights(scopeOf(ctx), project, parseInput(InsightsArgsSchema, args, '')),
  }),
);
