// CORS_ORIGINS and CORS_ALLOW_CREDENTIALS as loadConfig reads them: exact origins or `*`, and a
// start-up error naming the variable for anything else.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.ts';

const base = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), DATA_DIR: '/nonexistent-not-written' } as const;
const cors = (env: Record<string, string>) => loadConfig({ ...base, ...env }).cors;
const refusal = (env: Record<string, string>) => {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};

describe('CORS_ORIGINS', () => {
  it('defaults to the API origin only, without credentials', () => {
    expect(cors({})).toEqual({ origins: [], allowCredentials: false });
    expect(cors({ CORS_ORIGINS: '  ' })).toEqual({ origins: [], allowCredentials: false });
  });

  it('reads a comma-separated list of exact origins (spaces and empty entries ignored)', () => {
    expect(cors({ CORS_ORIGINS: 'https://console.example, http://localhost:5173,,http://[::1]:4000,' })).toEqual({
      origins: ['https://console.example', 'http://localhost:5173', 'http://[::1]:4000'],
      allowCredentials: false,
    });
    expect(cors({ CORS_ORIGINS: 'https://console.example', CORS_ALLOW_CREDENTIALS: 'true' })).toEqual({
      origins: ['https://console.example'],
      allowCredentials: true,
    });
    expect(cors({ CORS_ORIGINS: 'https://console.example', CORS_ALLOW_CREDENTIALS: 'false' }).allowCredentials).toBe(false);
  });

  it('reads `*` alone, without credentials', () => {
    expect(cors({ CORS_ORIGINS: '*' })).toEqual({ origins: '*', allowCredentials: false });
    expect(cors({ CORS_ORIGINS: ' * ', CORS_ALLOW_CREDENTIALS: 'false' })).toEqual({ origins: '*', allowCredentials: false });
  });

  // Each is compared with the Origin header as browsers send it, so a near form would never match.
  it.each([
    ['https://console.example/', 'https://console.example'],
    ['https://console.example/app', 'https://console.example'],
    ['https://console.example?x=1', 'https://console.example'],
    ['https://CONSOLE.example', 'https://console.example'],
    ['HTTPS://console.example', 'https://console.example'],
    ['https://console.example:443', 'https://console.example'],
    ['http://localhost:80', 'http://localhost'],
    ['https://user@console.example', 'https://console.example'],
  ])('refuses %s, suggesting %s', (entry, suggestion) => {
    expect(refusal({ CORS_ORIGINS: `http://localhost:5173,${entry}` })).toBe(
      `Invalid CORS_ORIGINS: ${JSON.stringify(entry)} is not an origin (http(s)://host[:port], no path or trailing slash); did you mean ${JSON.stringify(suggestion)}?`,
    );
  });

  it.each(['console.example', 'localhost:5173', 'null', 'file:///tmp/page.html', 'ws://console.example', 'https://'])(
    'refuses %s',
    (entry) => {
      expect(refusal({ CORS_ORIGINS: entry })).toMatch(/^Invalid CORS_ORIGINS: .* is not an origin \(http\(s\):\/\/host\[:port\]/);
    },
  );

  it('refuses patterns (an origin is exact)', () => {
    for (const entry of ['https://*.example.com', '*.example.com', 'https://console.*']) {
      expect(refusal({ CORS_ORIGINS: entry })).toBe(
        `Invalid CORS_ORIGINS: ${JSON.stringify(entry)}: patterns are not supported, list each origin`,
      );
    }
  });

  it('refuses `*` among other entries', () => {
    expect(refusal({ CORS_ORIGINS: '*, https://console.example' })).toMatch(/^Invalid CORS_ORIGINS: `\*` must stand alone/);
  });
});

describe('CORS_ALLOW_CREDENTIALS', () => {
  it('is refused with CORS_ORIGINS=* (any origin with credentials)', () => {
    expect(refusal({ CORS_ORIGINS: '*', CORS_ALLOW_CREDENTIALS: 'true' })).toMatch(/^Invalid CORS_ALLOW_CREDENTIALS: .*CORS_ORIGINS=\*/);
  });

  it('is refused without CORS_ORIGINS (there is no other origin to allow it for)', () => {
    expect(refusal({ CORS_ALLOW_CREDENTIALS: 'true' })).toMatch(/^Invalid CORS_ALLOW_CREDENTIALS: true needs CORS_ORIGINS/);
  });

  it('is true or false, nothing else', () => {
    for (const value of ['yes', '1', 'TRUE']) {
      expect(refusal({ CORS_ORIGINS: 'https://console.example', CORS_ALLOW_CREDENTIALS: value })).toBe(
        `Invalid CORS_ALLOW_CREDENTIALS: must be true or false (got ${JSON.stringify(value)})`,
      );
    }
  });
});
