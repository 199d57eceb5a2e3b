// OpenTelemetry for the process: a tracer provider that exports spans over OTLP/HTTP, set up only
// when an OTLP endpoint is configured (config.telemetry). Otherwise nothing is registered and every
// instrumentation in the code base sees @opentelemetry/api's no-op tracer (or is not installed at
// all: the database wrapper, the Yoga plugin and the Temporal interceptors are added only when
// this returns a Telemetry).
import { useOpenTelemetry } from '@envelop/opentelemetry';
import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource, envDetectorSync } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config/index.ts';

export type ProcessMode = 'all' | 'api' | 'worker';

export interface Telemetry {
  provider: NodeTracerProvider;
  /** The processor every span goes through, the workflow isolates' spans included (worker sinks). */
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** The GraphQL span-per-operation plugin (server/yoga.ts places it among its plugins). */
  graphqlPlugin: Plugin;
  /** Exports every ended span now (tests; shutdown does it too). */
  flush(): Promise<void>;
  /** Flushes, then unregisters the global provider, context manager and propagator. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** Replaces the OTLP exporter (tests: an InMemorySpanExporter). Used only when tracing is configured. */
  exporter?: SpanExporter;
}

/** The provider for `settings`, registered globally; null (and nothing registered) when tracing is off. */
export function startTelemetry(settings: Config['telemetry'], mode: ProcessMode, options: TelemetryOptions = {}): Telemetry | null {
  if (!settings) return null;
  // OTEL_RESOURCE_ATTRIBUTES is honoured; service.name is ours (OTEL_SERVICE_NAME, default
  // "stageplane"), and the mode tells the API's spans from the worker's in one service.
  const resource = Resource.default()
    .merge(envDetectorSync.detect())
    .merge(new Resource({ 'service.name': settings.serviceName, 'stageplane.mode': mode }));
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: settings.tracesUrl });
  const spanProcessor = new BatchSpanProcessor(exporter);
  // The sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default: parent-based, always on).
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Registers the AsyncLocalStorage context manager (a span started in a resolver becomes the
  // parent of the queries it awaits) and the W3C trace-context propagator (an incoming
  // traceparent header continues the caller's trace).
  provider.register();
  let stopped = false;
  return {
    provider,
    spanProcessor,
    resource,
    graphqlPlugin: graphqlTracing(),
    flush: () => provider.forceFlush(),
    async shutdown() {
      if (stopped) return;
      stopped = true;
      try {
        await provider.shutdown();
      } finally {
        // So a later start in the same process (tests) can register its own.
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}

/**
 * A span per operation, under the request's span. Never the variables or the result: either may
 * hold a secret value. The document is recorded only when it has no inline arguments (the
 * plugin's rule), for the same reason. No resolver spans: one per field of every list item costs
 * more than it tells; the database spans under the operation show where its time goes. Here, not
 * in server/yoga.ts, so the plugin loads only when tracing is configured (start-up time).
 */
function graphqlTracing(): Plugin {
  return useOpenTelemetry(
    { document: true, variables: false, result: false, resolvers: false },
    trace.getTracerProvider(), // the global one registered above (without it, the plugin makes its own)
    undefined,
    undefined,
    'stageplane.graphql',
  ) as Plugin;
}
