// One Temporal connection setting (config/temporal.ts) for the API's client, the worker and
// readiness alike, and the start-up check that turns a TLS or API-key mistake into an error
// naming the variable instead of a worker "waiting for Temporal" forever.
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import { ConfigError } from '../config/index.ts';
import type { TemporalConnection } from '../config/temporal.ts';

export interface ConnectOptions {
  address: string;
  tls?: TemporalConnection['tls'];
  apiKey?: string;
  metadata?: Record<string, string>;
}

/** The SDK connection options (Connection and NativeConnection take the same fields). */
export function connectOptions(address: string, connection: TemporalConnection | undefined): ConnectOptions {
  if (!connection) return { address };
  return {
    address,
    ...(connection.tls !== undefined ? { tls: connection.tls } : {}),
    ...(connection.apiKey !== undefined ? { apiKey: connection.apiKey } : {}),
    ...(connection.metadata ? { metadata: connection.metadata } : {}),
  };
}

// node:tls codes for a server certificate the configured CA does not vouch for.
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/**
 * One TLS handshake with the same trust and client certificate the SDKs will use (the SDKs only
 * say "failed to connect" and retry). A definite verdict — the server's certificate is not
 * trusted or not for this name, or the server refuses our certificate — throws a ConfigError
 * naming the variable. Temporal being unreachable is not a configuration error: it resolves
 * with the reason, and the worker waits and /readyz says 503 as without TLS.
 */
export async function checkTemporalTls(address: string, connection: TemporalConnection, timeoutMs = 10_000): Promise<string | null> {
  const tls = connection.tls;
  if (!tls) return null;
  const options = tls === true ? {} : tls;
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const names = connection.names;
  const serverName = options.serverNameOverride ?? host;
  const outcome = await new Promise<{ error?: NodeJS.ErrnoException; timedOut?: boolean }>((resolve) => {
    const socket = tlsConnect({
      host,
      port: Number(address.slice(i + 1)),
      // node:tls refuses an IP address as SNI, and checks the name itself below either way.
      ...(/^[\d.]+$|:/.test(serverName) ? {} : { servername: serverName }),
      ALPNProtocols: ['h2'],
      ...(options.serverRootCACertificate ? { ca: Buffer.from(options.serverRootCACertificate) } : {}),
      ...(options.clientCertPair ? { cert: Buffer.from(options.clientCertPair.crt), key: Buffer.from(options.clientCertPair.key) } : {}),
      // TEMPORAL_TLS_SERVER_NAME: the name to find in the certificate instead of the address's host.
      checkServerIdentity: (_, cert) => checkServerIdentity(serverName, cert),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ timedOut: true });
    }, timeoutMs);
    const done = (result: { error?: NodeJS.ErrnoException }) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    // TLS 1.3: the server judges our certificate after the client's handshake is done, so its
    // refusal arrives as an alert on the first read; HTTP/2's preface makes the server answer.
    socket.once('secureConnect', () => {
      socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00');
      socket.once('data', () => done({}));
    });
    socket.once('error', (error) => done({ error }));
    socket.once('end', () =>
      done({ error: Object.assign(new Error('the server closed the connection after the TLS handshake'), { code: 'ECLOSED' }) }),
    );
  });
  if (outcome.timedOut) return `no TLS handshake with ${address} within ${timeoutMs} ms`;
  const error = outcome.error;
  if (!error) return null;
  const code = String(error.code ?? '');
  const message = error.message;
  if (UNTRUSTED.has(code)) {
    throw new ConfigError(
      `Invalid ${names.serverCa}: the certificate of the Temporal server at ${address} is not signed by this CA (${code})` +
        (options.serverRootCACertificate ? '' : `; set ${names.serverCa} to the CA that signed it`),
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    throw new ConfigError(
      `Temporal server at ${address}: its certificate is out of date (${code}); check the server, or ${names.serverCa}`,
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    throw new ConfigError(
      `Invalid ${names.serverName}: the Temporal server certificate at ${address} is not for "${serverName}" (${message})`,
    );
  }
  // A TLS alert from the server: it refused our client certificate (or wants one).
  if (
    /alert (certificate required|bad certificate|unknown ca|certificate expired|certificate revoked|access denied|unsupported certificate|handshake failure)/i.test(
      message,
    )
  ) {
    throw new ConfigError(
      options.clientCertPair
        ? `Invalid ${names.clientCert}: the Temporal server at ${address} refused the client certificate (${message.trim()})`
        : `Invalid ${names.clientCert}: the Temporal server at ${address} requires a client certificate (${message.trim()}); set ${names.clientCert} and ${names.clientKey}`,
    );
  }
  if (/wrong version number|packet length too long|unknown protocol/i.test(message)) {
    throw new ConfigError(
      `Invalid TEMPORAL_TLS: the Temporal server at ${address} does not speak TLS (${message.trim()}); unset the TLS settings or fix ${names.address}`,
    );
  }
  return `TLS handshake with ${address} failed: ${message}`;
}

/**
 * The SDK's errors that no retry will cure, with the variable to fix; null for the others
 * (Temporal away, a restart under way), which the caller keeps retrying.
 */
export function fatalTemporalError(error: unknown, connection: TemporalConnection | undefined, address: string): ConfigError | null {
  const message = String((error as Error)?.message ?? error);
  const names = connection?.names;
  if (/InvalidCertificate\(NotValidForName/.test(message)) {
    return new ConfigError(
      `Invalid ${names?.serverName ?? 'TEMPORAL_TLS_SERVER_NAME'}: the Temporal server certificate at ${address} is not for this name (${message})`,
    );
  }
  if (/InvalidCertificate|UnknownIssuer|invalid peer certificate/i.test(message)) {
    return new ConfigError(
      `Invalid ${names?.serverCa ?? 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'}: the Temporal server certificate at ${address} is not trusted (${message})`,
    );
  }
  if (/valid authentication credentials|Unauthenticated|unauthorized/i.test(message)) {
    return new ConfigError(
      connection?.apiKey
        ? `Invalid ${names!.apiKey}: the Temporal server at ${address} refused it (${message})`
        : `Temporal server at ${address} wants credentials: set TEMPORAL_API_KEY (or a client certificate) (${message})`,
    );
  }
  return null;
}
