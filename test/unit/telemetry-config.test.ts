// Which OTEL_* variables turn tracing on, and where its spans go (config/index.ts).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.ts';

const base = { NODE_ENV: 'test', DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-otel-')), JWT_SECRET: 'x'.repeat(32) } as const;
const telemetry = (env: Record<string, string>) => loadConfig({ ...base, ...env }).telemetry;

describe('tracing configuration', () => {
  it('is off without an OTLP endpoint (blank counts as unset)', () => {
    expect(telemetry({})).toBeNull();
    expect(telemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ', OTEL_SERVICE_NAME: 'x' })).toBeNull();
  });

  it('sends to <endpoint>/v1/traces, as stageplane unless OTEL_SERVICE_NAME says otherwise', () => {
    expect(telemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      serviceName: 'stageplane',
    });
    expect(telemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/otlp/', OTEL_SERVICE_NAME: 'sp-eu' })).toEqual({
      tracesUrl: 'http://collector:4318/otlp/v1/traces',
      serviceName: 'sp-eu',
    });
  });

  it('takes the traces endpoint as it is, over the base endpoint', () => {
    expect(telemetry({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otlp.example/traces' })?.tracesUrl).toBe('https://otlp.example/traces');
    expect(
      telemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/v1/traces' })?.tracesUrl,
    ).toBe('http://b:4318/v1/traces');
  });

  it('is off with OTEL_SDK_DISABLED=true, whatever the endpoint', () => {
    expect(telemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBeNull();
    expect(telemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'false' })).not.toBeNull();
  });

  it('refuses a bad value with an error naming the variable', () => {
    for (const [name, value] of [
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
      ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'not a url'],
      ['OTEL_SDK_DISABLED', 'yes'],
    ] as const) {
      expect(() => telemetry({ [name]: value }), name).toThrow(ConfigError);
      expect(() => telemetry({ [name]: value }), name).toThrow(new RegExp(`^Invalid ${name}:`));
    }
  });
});
