// The outbound-URL rule, at set time (the URL alone) and at call time (a real HTTP server on
// loopback, reached through the worker's one client, with names resolved by the real resolver).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addressRefusal,
  type OutboundRule,
  outboundUrlRefusal,
  parseCidrs,
  PERMISSIVE_DEVELOPMENT_RULE,
} from '../../domain/outbound-url.ts';
import { guardedLookup, OutboundRefused, outboundRequest } from '../../workflows/activities/outbound-http.ts';

const production: OutboundRule = { production: true, allowCidrs: [], denyCidrs: [], self: [] };
const dev = PERMISSIVE_DEVELOPMENT_RULE;

describe('outboundUrlRefusal (set time)', () => {
  it.each([
    ['http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://[::ffff:169.254.169.254]/', 'link-local'],
    ['http://0.0.0.0:8080/', 'unspecified'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'metadata'],
    ['ftp://example.com/', 'http'],
    ['file:///etc/passwd', 'http'],
    ['http://user:pw@example.com/', 'password'],
    ['not a url', 'valid'],
  ])('refuses %s everywhere', (url, why) => {
    expect(outboundUrlRefusal(url, dev)).toContain(why);
    expect(outboundUrlRefusal(url, production)).toContain(why);
  });

  it.each([
    'http://127.0.0.1:9000/hook',
    'http://localhost:9000/',
    'http://[::1]:9000/',
    'http://10.0.0.5/',
    'http://192.168.1.1/',
    'http://172.20.0.1/',
  ])('allows loopback and private %s outside production only', (url) => {
    expect(outboundUrlRefusal(url, dev)).toBeNull();
    expect(outboundUrlRefusal(url, production)).toMatch(/loopback or private/);
  });

  it('allows public names and addresses in production', () => {
    expect(outboundUrlRefusal('https://hooks.example.com/deploy', production)).toBeNull();
    expect(outboundUrlRefusal('http://93.184.216.34/', production)).toBeNull();
  });

  it("refuses the API's own address, by IP (any loopback when it listens on loopback or 0.0.0.0) and by name", () => {
    const rule: OutboundRule = {
      ...dev,
      self: [
        { host: '0.0.0.0', port: 4000 },
        { host: 'stageplane.example.com', port: 443 },
      ],
    };
    expect(outboundUrlRefusal('http://127.0.0.1:4000/graphql', rule)).toMatch(/own API/);
    expect(outboundUrlRefusal('http://localhost:4000/graphql', rule)).toMatch(/own API/);
    expect(outboundUrlRefusal('https://stageplane.example.com/graphql', rule)).toMatch(/own API/);
    expect(outboundUrlRefusal('http://127.0.0.1:4001/', rule)).toBeNull();
  });

  it('lets OUTBOUND_ALLOW_CIDRS open a range in production and OUTBOUND_DENY_CIDRS close one anywhere', () => {
    const rule: OutboundRule = {
      production: true,
      allowCidrs: parseCidrs('10.1.0.0/16'),
      denyCidrs: parseCidrs('203.0.113.0/24, 2001:db8::/32'),
      self: [],
    };
    expect(outboundUrlRefusal('http://10.1.2.3/', rule)).toBeNull();
    expect(outboundUrlRefusal('http://10.2.0.1/', rule)).toMatch(/private/);
    expect(addressRefusal('203.0.113.9', 80, rule)).toMatch(/OUTBOUND_DENY_CIDRS/);
    expect(addressRefusal('2001:db8::1', 80, rule)).toMatch(/OUTBOUND_DENY_CIDRS/);
  });

  it('parseCidrs refuses what is not a range', () => {
    expect(() => parseCidrs('10.0.0.0/33')).toThrow(/CIDR/);
    expect(() => parseCidrs('example.com')).toThrow(/CIDR/);
    expect(parseCidrs(' 10.0.0.1 , ::1/128 ')).toEqual(['10.0.0.1/32', '::1/128']);
  });
});

describe('outboundRequest (call time)', () => {
  let server: Server;
  let port: number;
  const hits: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(100_000));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('calls an allowed URL and keeps at most maxBodyBytes of the answer', async () => {
    const res = await outboundRequest(`http://127.0.0.1:${port}/ok`, { method: 'GET', maxBodyBytes: 10 }, dev);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('xxxxxxxxxx');
  });

  it('checks what a name resolves to when it is called: localhost is loopback, refused in production', async () => {
    const before = hits.length;
    await expect(outboundRequest(`http://localhost:${port}/`, { method: 'GET' }, production)).rejects.toBeInstanceOf(OutboundRefused);
    expect(hits.length).toBe(before);
    // The lookup the socket uses judges every address the real resolver answers for a name.
    const lookup = guardedLookup(production, 'localhost', port);
    const answer = await new Promise<Error | null>((resolve) => lookup('localhost', {}, (error) => resolve(error)));
    expect(answer).toBeInstanceOf(OutboundRefused);
    expect(answer?.message).toMatch(/localhost resolves to (127\.0\.0\.1|::1)/);
    const allowed = await new Promise<string>((resolve, reject) =>
      guardedLookup(dev, 'localhost', port)('localhost', {}, (error, address) => (error ? reject(error) : resolve(address as string))),
    );
    expect(['127.0.0.1', '::1']).toContain(allowed);
  });

  it('never follows a redirect', async () => {
    const res = await outboundRequest(`http://127.0.0.1:${port}/redirect`, { method: 'GET' }, dev);
    expect(res.status).toBe(302);
    expect(hits.at(-1)).toBe('/redirect');
  });

  it('refuses the metadata address without connecting', async () => {
    await expect(outboundRequest('http://169.254.169.254/latest/meta-data/', { method: 'GET' }, dev)).rejects.toThrow(/link-local/);
  });

  it('times out', async () => {
    const slow = createServer(() => {});
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const p = (slow.address() as AddressInfo).port;
      await expect(outboundRequest(`http://127.0.0.1:${p}/`, { method: 'GET', timeoutMs: 200 }, dev)).rejects.toThrow(
        /no answer within 200 ms/,
      );
    } finally {
      slow.closeAllConnections();
      slow.close();
    }
  });
});
