// The console's static files: each body in the encoding the browser accepts (brotli, gzip, or as
// it is), compressed once, and the same bytes after decompression as on disk.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRoute } from '../../server/console.ts';

const dist = mkdtempSync(join(tmpdir(), 'stageplane-console-dist-'));
mkdirSync(join(dist, 'assets'));
const script = `export const words = ${JSON.stringify(Array.from({ length: 5000 }, (_, i) => `word-${i}`))};\n`;
writeFileSync(join(dist, 'index.html'), `<!doctype html><html lang="en"><title>t</title>${'<p>x</p>'.repeat(200)}</html>`);
writeFileSync(join(dist, 'assets', 'app-abc123.js'), script);
writeFileSync(join(dist, 'assets', 'tiny-abc123.js'), 'export {};\n');

let server: Server;
let port = 0;
beforeAll(async () => {
  const route = consoleRoute({ dist });
  server = createServer((req, res) => {
    route(req, res).then(
      (handled) => handled || res.writeHead(404).end(),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise((r) => server.close(r)));

/** GET with Node's http (fetch would decode the body itself). */
function get(path: string, acceptEncoding: string) {
  return new Promise<{ status: number; encoding: string | undefined; length: string | undefined; body: Buffer }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers: { 'accept-encoding': acceptEncoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          encoding: res.headers['content-encoding'],
          length: res.headers['content-length'],
          body: Buffer.concat(chunks),
        }),
      );
    })
      .on('error', reject)
      .end();
  });
}

describe('the console static files', () => {
  it('answers brotli, gzip or the plain body by Accept-Encoding, each the file on disk once decoded', async () => {
    const path = '/assets/app-abc123.js';
    const br = await get(path, 'gzip, deflate, br');
    expect([br.status, br.encoding]).toEqual([200, 'br']);
    expect(brotliDecompressSync(br.body).toString()).toBe(script);
    expect(br.body.length).toBeLessThan(script.length / 3);
    expect(Number(br.length)).toBe(br.body.length);

    const gz = await get(path, 'gzip');
    expect([gz.status, gz.encoding]).toEqual([200, 'gzip']);
    expect(gunzipSync(gz.body).toString()).toBe(script);

    const plain = await get(path, 'identity');
    expect([plain.status, plain.encoding]).toEqual([200, undefined]);
    expect(plain.body.toString()).toBe(script);
  });

  it('answers concurrent first requests, before any compression finished, alike and decodable', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => get('/', 'br')));
    for (const a of answers) expect(a.encoding).toBe('br');
    expect(new Set(answers.map((a) => a.body.toString('base64'))).size).toBe(1);
    expect(brotliDecompressSync(answers[0]!.body).toString()).toContain('<p>x</p>');
  });

  it('sends small files as they are', async () => {
    const tiny = await get('/assets/tiny-abc123.js', 'br, gzip');
    expect([tiny.status, tiny.encoding, tiny.body.toString()]).toEqual([200, undefined, 'export {};\n']);
  });
});
