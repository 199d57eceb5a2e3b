// OpenTelemetry end to end: a real API and worker (real PostgreSQL, real Temporal) whose spans go
// to an in-memory exporter in place of OTLP. One trace must run from the promote mutation through
// the workflow and each activity, and no span may carry a credential or a secret value.
import { createServer, type IncomingMessage } from 'node:http';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import { push, setupProject, waitForStatus } from '../support/deployments.ts';
import { codeOf, startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server.ts';

const WEBHOOK_SECRET = 'webhook-secret-for-telemetry-0123456789';
const SECRET_VALUE = 'sk_live_telemetry_must_never_see_this_4242';
const INLINE_SECRET_VALUE = 'sk_live_inline_in_the_document_7777';
const URL_TOKEN = 'query-string-token-9191';

let dropDb: () => Promise<void>;
let databaseUrl: string;
beforeAll(async () => {
  const db = await createTestDatabase();
  dropDb = db.drop;
  databaseUrl = db.url;
});
afterAll(async () => dropDb?.());

/** Every string a span exports: its name, attributes, events' attributes, status and resource. */
function exportedStrings(span: ReadableSpan): string[] {
  const values = (attributes: Record<string, unknown> | undefined) =>
    Object.entries(attributes ?? {}).flatMap(([k, v]) => [k, typeof v === 'string' ? v : (JSON.stringify(v) ?? '')]);
  return [
    span.name,
    ...values(span.attributes),
    ...span.events.flatMap((e) => [e.name, ...values(e.attributes)]),
    span.status.message ?? '',
    ...values(span.resource.attributes as Record<string, unknown>),
  ];
}

async function receiver(onCall: (req: IncomingMessage, body: string) => void) {
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      onCall(req, body);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  return { base: `http://127.0.0.1:${port}/deploy`, close: () => new Promise((r) => srv.close(r)) };
}

// First: the global provider is registered by the traced server below and removed when it stops;
// this file runs its tests in order, so this one sees a process where tracing was never on.
describe('without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('registers no provider and exports nothing, even with an exporter at hand', async () => {
    const exporter = new InMemorySpanExporter();
    const server = await startTestServer({ databaseUrl, telemetry: { exporter } });
    try {
      expect(server.config.telemetry).toBeNull();
      expect(server.running.telemetry).toBeNull();
      const p = await setupProject(server, 'untraced');
      const pushed = await push(server, p.id, 'aaaa0001');
      await waitForStatus(server, pushed.data.recordPush.deployments[0].id, ['SUCCEEDED']);
      // The API's global tracer is the no-op one: nothing records, so nothing could be exported.
      expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
      expect(exporter.getFinishedSpans()).toEqual([]);
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe('with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  const exporter = new InMemorySpanExporter();
  let server: TestServer;
  let spans: ReadableSpan[] = [];
  /** Credentials and values no span may contain. */
  const forbidden = new Map<string, string>([
    ['WEBHOOK_SECRET', WEBHOOK_SECRET],
    ['JWT_SECRET', TEST_JWT_SECRET],
    ['the secret value', SECRET_VALUE],
    ['the inline secret value', INLINE_SECRET_VALUE],
    ["the webhook URL's query token", URL_TOKEN],
  ]);
  let promoteId: string;
  let webhookCall: { headers: IncomingMessage['headers']; body: string } | undefined;
  let hook: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    hook = await receiver((req, body) => (webhookCall = { headers: req.headers, body }));
    server = await startTestServer({
      databaseUrl,
      // Nothing listens there: the test exporter replaces the OTLP one; the endpoint turns tracing on.
      env: { WEBHOOK_SECRET, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_SERVICE_NAME: 'stageplane-test' },
      telemetry: { exporter },
    });
    const admin = await server.token('admin', ['ADMIN']);
    forbidden.set('the JWT', admin);

    const p = await setupProject(server, 'traced');
    // A secret with a value in staging: the promote pins it in the snapshot.
    const secret = await server.gql(`mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }`, {
      i: { projectId: p.id, name: 'STRIPE_KEY' },
    });
    expect(secret.errors).toBeUndefined();
    const secretId = secret.data.createSecret.id as string;
    // Set in every environment deployed below (the secrets.all-set policy check).
    for (const environment of ['development', 'staging']) {
      const set = await server.gql(`mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { isSet } }`, {
        i: { secretId, environment, value: SECRET_VALUE },
      });
      expect(set.errors).toBeUndefined();
    }
    // A value written into the document itself (not a variable): the document must not be recorded.
    const inline = await server.gql(
      `mutation { setSecretValue(input: { secretId: ${JSON.stringify(secretId)}, environment: "production", value: ${JSON.stringify(INLINE_SECRET_VALUE)} }) { isSet } }`,
    );
    expect(inline.errors).toBeUndefined();
    // A refused variable: graphql-js would quote the value in the error the GraphQL span records.
    const refused = await server.gql(`mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { isSet } }`, {
      i: { secretId, value: SECRET_VALUE },
    });
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');

    // Development deploys through a WEBHOOK target whose URL carries a token in its query string.
    const updated = await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: p.dev, deployTarget: { provider: 'WEBHOOK', url: `${hook.base}?token=${URL_TOKEN}` } },
    });
    expect(updated.errors).toBeUndefined();
    const pushed = await push(server, p.id, 'bbbb0001');
    const devId = pushed.data.recordPush.deployments[0].id as string;
    for (let i = 0; i < 150 && !webhookCall; i++) await new Promise((r) => setTimeout(r, 100));
    expect(webhookCall).toBeDefined();
    const callbackToken = JSON.parse(webhookCall!.body).callbackToken as string;
    forbidden.set('the callback token', callbackToken);
    const report = await server.gql(
      `mutation($i: ReportDeploymentStatusInput!) { reportDeploymentStatus(input: $i) { status } }`,
      { i: { deploymentId: devId, status: 'SUCCEEDED' } },
      callbackToken,
    );
    expect(report.errors).toBeUndefined();
    await waitForStatus(server, devId, ['SUCCEEDED']);

    const promoted = await server.gql(`mutation Promote($i: PromoteInput!) { promote(input: $i) { id } }`, {
      i: { environmentId: p.staging },
    });
    expect(promoted.errors).toBeUndefined();
    promoteId = promoted.data.promote.id;
    await waitForStatus(server, promoteId, ['SUCCEEDED']);
    // The workflow's spans reach the processor through the worker's sink once its last activation
    // completes, a moment after the row says SUCCEEDED: flush until the run's span is there.
    for (let i = 0; i < 100; i++) {
      await server.running.telemetry!.flush();
      spans = exporter.getFinishedSpans();
      const runs = spans.filter((s) => s.name === 'RunWorkflow:deploymentWorkflow');
      if (runs.length >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await hook?.close();
  });

  const byId = () => new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const parentOf = (s: ReadableSpan) => (s.parentSpanId ? byId().get(s.parentSpanId) : undefined);
  const one = (predicate: (s: ReadableSpan) => boolean, what: string) => {
    const found = spans.filter(predicate);
    expect(found, what).toHaveLength(1);
    return found[0]!;
  };
  const childrenOf = (parent: ReadableSpan) => spans.filter((s) => s.parentSpanId === parent.spanContext().spanId);

  it('runs one trace from the promote request through the workflow and each of its activities', () => {
    const operation = one((s) => s.name === 'mutation.Promote', 'the promote operation span');
    const request = parentOf(operation)!;
    expect(request.name).toBe('POST /graphql');
    expect(request.parentSpanId).toBeUndefined(); // the trace's root
    expect(request.attributes).toMatchObject({ 'http.request.method': 'POST', 'url.path': '/graphql', 'http.response.status_code': 200 });
    const traceId = request.spanContext().traceId;

    const start = one((s) => s.name === 'StartWorkflow:deploymentWorkflow' && s.spanContext().traceId === traceId, 'the start');
    expect(parentOf(start)).toBe(operation);
    const run = one((s) => s.name === 'RunWorkflow:deploymentWorkflow' && s.spanContext().traceId === traceId, 'the run');
    expect(parentOf(run)).toBe(start);

    // Each activity: scheduled by the workflow (StartActivity, a child of the run), executed by the
    // worker (RunActivity, a child of that).
    const activities = childrenOf(run)
      .filter((s) => s.name.startsWith('StartActivity:'))
      .map((scheduled) => {
        const executed = childrenOf(scheduled).filter((s) => s.name.startsWith('RunActivity:'));
        expect(executed.length, scheduled.name).toBeGreaterThanOrEqual(1);
        return scheduled.name.slice('StartActivity:'.length);
      });
    // Local activities (the short transitions, and the three steps, which take no time here, in
    // one) have the same pair of spans.
    expect([...activities].sort()).toEqual(['finish', 'loadDeployment', 'recordInstantSteps', 'tryLease']);

    // Every span of the promotion is in this one trace, and the activities' queries are under them.
    const runActivity = one(
      (s) => s.name === 'RunActivity:loadDeployment' && s.spanContext().traceId === traceId,
      'the loadDeployment activity',
    );
    expect(childrenOf(runActivity).some((s) => s.attributes['db.system'] === 'postgresql')).toBe(true);
  });

  it('has the PostgreSQL queries under the GraphQL operation, with their SQL text and no parameters', () => {
    const operation = one((s) => s.name === 'mutation.Promote', 'the promote operation span');
    const queries = childrenOf(operation).filter((s) => s.attributes['db.system'] === 'postgresql');
    expect(queries.length).toBeGreaterThan(3);
    for (const q of queries) {
      expect(q.attributes['db.query.text']).toEqual(expect.any(String));
      expect(q.name).toBe(q.attributes['db.operation.name']);
    }
    // The promote's insert of its deployment is there, parameterised.
    expect(queries.some((q) => /^insert into "deployments"/i.test(String(q.attributes['db.query.text'])))).toBe(true);
    expect(queries.some((q) => /\$1/.test(String(q.attributes['db.query.text'])))).toBe(true);
  });

  it('traces the webhook call as a client span without its query string, and the receiver gets its traceparent', () => {
    const call = one((s) => s.attributes['http.request.method'] === 'POST' && s.attributes['url.full'] !== undefined, 'the webhook call');
    expect(call.attributes['url.full']).toBe(hook.base);
    expect(call.attributes['http.response.status_code']).toBe(202);
    expect(parentOf(call)?.name).toBe('RunActivity:sendWebhook');
    const { traceId, spanId } = call.spanContext();
    expect(webhookCall!.headers.traceparent).toBe(`00-${traceId}-${spanId}-01`);
  });

  it('traces probes, and continues a trace an incoming traceparent names', async () => {
    const remoteTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const remoteSpan = '00f067aa0ba902b7';
    const response = await fetch(`${server.url}/healthz`, { headers: { traceparent: `00-${remoteTrace}-${remoteSpan}-01` } });
    expect(response.status).toBe(200);
    await server.running.telemetry!.flush();
    const probe = exporter.getFinishedSpans().find((s) => s.name === 'GET /healthz' && s.spanContext().traceId === remoteTrace);
    expect(probe?.parentSpanId).toBe(remoteSpan);
    expect(probe?.attributes['http.response.status_code']).toBe(200);
  });

  it('names the service from OTEL_SERVICE_NAME, with the process mode', () => {
    expect(spans[0]!.resource.attributes).toMatchObject({ 'service.name': 'stageplane-test', 'stageplane.mode': 'all' });
  });

  it('puts no credential and no secret value in any span', () => {
    expect(spans.length).toBeGreaterThan(50);
    const leaks: string[] = [];
    for (const span of exporter.getFinishedSpans())
      for (const text of exportedStrings(span))
        for (const [what, value] of forbidden) if (text.includes(value)) leaks.push(`${what} in span ${span.name}: ${text.slice(0, 120)}`);
    expect(leaks).toEqual([]);
    // The bookkeeping is live: the refused variable's error was recorded (redacted) on its span.
    const refused = spans.filter((s) => s.events.some((e) => String(e.attributes?.['exception.message']).includes('value not shown')));
    expect(refused.length).toBeGreaterThanOrEqual(1);
  });
});
