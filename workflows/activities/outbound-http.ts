// The worker's one HTTP client for URLs that users set (deploy-target webhooks, verification
// probes, notification receivers). It applies domain/outbound-url.ts at call time to the very
// addresses it connects to — the DNS answer is checked inside the socket's lookup, so a name that
// resolves inward (or is re-pointed after it was set) is refused without a time-of-check gap —
// and it never follows a redirect: a 3xx is answered as it is, so a receiver cannot bounce the
// worker to another host.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { addressRefusal, type OutboundRule, outboundUrlRefusal } from '../../domain/outbound-url.ts';

/** The URL or an address it resolved to is not one the worker may call. Not worth retrying. */
export class OutboundRefused extends Error {
  override name = 'OutboundRefused';
}

export interface OutboundRequest {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Aborts the request (activity cancellation, or a timeout the caller composes). */
  signal?: AbortSignal;
  /** Whole request, connect to last byte. Default 10 s. */
  timeoutMs?: number;
  /** Bytes of the body kept (the rest is read and dropped). Default 64 KiB. */
  maxBodyBytes?: number;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const portOf = (url: URL) => (url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);

/** A lookup that answers only addresses the rule allows; any refused address refuses the call. */
export function guardedLookup(rule: OutboundRule, host: string, port: number): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as LookupAddress[];
      for (const a of list) {
        const refusal = addressRefusal(a.address, port, rule, host);
        if (refusal) return callback(new OutboundRefused(`${host} resolves to ${a.address}: ${refusal}`), '', 0);
      }
      if (list.length === 0) return callback(Object.assign(new Error(`${host} has no address`), { code: 'ENOTFOUND' }), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

/** One request to a user-set URL under `rule`. Rejects with OutboundRefused, or the network error. */
export function outboundRequest(raw: string, init: OutboundRequest, rule: OutboundRule): Promise<OutboundResponse> {
  const refusal = outboundUrlRefusal(raw, rule);
  if (refusal) return Promise.reject(new OutboundRefused(`The URL ${refusal}`));
  const url = new URL(raw);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const maxBody = init.maxBodyBytes ?? 64 * 1024;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: init.method,
        headers: init.headers,
        lookup: guardedLookup(rule, host, portOf(url)),
        timeout: init.timeoutMs ?? 10_000,
        signal: init.signal,
        // A fresh connection per call: a pooled socket was checked for another request's host.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < maxBody) {
            chunks.push(chunk.subarray(0, maxBody - kept));
            kept += Math.min(chunk.length, maxBody - kept);
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error(`no answer within ${init.timeoutMs ?? 10_000} ms`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.end(init.body);
  });
}
