// The one rule for every URL the worker calls (deploy-target webhooks, verification probes,
// notification receivers): a DEVELOPER who may set such a URL must not be able to point the
// worker at the control plane's own network — the cloud metadata service, the API itself, or
// (in production) private addresses. Checked twice: when the URL is set (the literal host, here)
// and when it is called (every address DNS answers, workflows/activities/outbound-http.ts), since
// a name may resolve elsewhere later. Pure: the caller hands in the rule built from config.
import { BlockList, isIP } from 'node:net';

export interface OutboundRule {
  /** NODE_ENV=production: loopback and private ranges are refused unless allowed explicitly. */
  production: boolean;
  /** OUTBOUND_ALLOW_CIDRS: ranges allowed even when the defaults would refuse them. */
  allowCidrs: readonly string[];
  /** OUTBOUND_DENY_CIDRS: ranges refused in addition to the defaults. */
  denyCidrs: readonly string[];
  /** The API's own listening addresses: host (name or IP) and port, e.g. PUBLIC_URL's and HOST:PORT's. */
  self: readonly { host: string; port: number }[];
}

/** Outside production, with no extra ranges and no self address: what tests and `npm start` get. */
export const PERMISSIVE_DEVELOPMENT_RULE: OutboundRule = Object.freeze({ production: false, allowCidrs: [], denyCidrs: [], self: [] });

// Always refused (unless in allowCidrs): link-local, which holds the cloud metadata services
// (169.254.169.254, fd00:ec2::254 is in ULA below), and "this network" / unspecified.
const ALWAYS_DENIED: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['169.254.0.0', 16, 'ipv4'],
  ['0.0.0.0', 8, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
  ['::', 128, 'ipv6'],
];
// Refused in production (unless in allowCidrs): loopback, RFC 1918, CGNAT, ULA, multicast/reserved.
const PRODUCTION_DENIED: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['127.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['224.0.0.0', 3, 'ipv4'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];
const LOOPBACK: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
];

const blockListOf = (ranges: readonly [string, number, 'ipv4' | 'ipv6'][]) => {
  const list = new BlockList();
  for (const [net, prefix, family] of ranges) list.addSubnet(net, prefix, family);
  return list;
};
const ALWAYS = blockListOf(ALWAYS_DENIED);
const PRODUCTION = blockListOf(PRODUCTION_DENIED);
const LOOPBACK_LIST = blockListOf(LOOPBACK);

/** Parses "10.0.0.0/8, fd00::/8" into ranges; throws with the bad entry (config reports it). */
export function parseCidrs(value: string | undefined): string[] {
  if (!value?.trim()) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [net, prefix, extra] = entry.split('/');
      const family = isIP(net ?? '');
      const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
      if (extra !== undefined || family === 0 || !Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32)) {
        throw new Error(`${JSON.stringify(entry)} is not an IP address or CIDR range`);
      }
      return `${net}/${bits}`;
    });
}

const listOf = (cidrs: readonly string[]) => {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, bits] = cidr.split('/');
    list.addSubnet(net!, Number(bits), isIP(net!) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
};
const compiled = new WeakMap<OutboundRule, { allow: BlockList; deny: BlockList }>();
const listsOf = (rule: OutboundRule) => {
  let lists = compiled.get(rule);
  if (!lists) compiled.set(rule, (lists = { allow: listOf(rule.allowCidrs), deny: listOf(rule.denyCidrs) }));
  return lists;
};

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged as the IPv4 address it carries. */
function normalized(address: string): { address: string; family: 'ipv4' | 'ipv6' } | null {
  const bare = address.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return { address: mapped[1]!, family: 'ipv4' };
  const family = isIP(bare);
  return family === 0 ? null : { address: bare, family: family === 6 ? 'ipv6' : 'ipv4' };
}

const defaultPort = (url: URL) => (url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);
const sameHost = (a: string, b: string) => a.replace(/^\[|\]$/g, '').toLowerCase() === b.replace(/^\[|\]$/g, '').toLowerCase();

/**
 * Why the worker must not connect to `address` (an IP, e.g. what DNS answered) on `port`, or
 * null when it may. `host` is the URL's host as written, for the self check by name.
 */
export function addressRefusal(address: string, port: number, rule: OutboundRule, host?: string): string | null {
  const ip = normalized(address);
  if (!ip) return `${address} is not an IP address`;
  const { allow, deny } = listsOf(rule);
  for (const self of rule.self) {
    const selfIp = normalized(self.host);
    // Listening on loopback or on every address (0.0.0.0, ::) means every loopback address reaches it.
    const selfOnLoopback =
      selfIp && (LOOPBACK_LIST.check(selfIp.address, selfIp.family) || selfIp.address === '0.0.0.0' || selfIp.address === '::');
    const isSelfHost = selfIp
      ? selfIp.address === ip.address || (selfOnLoopback && LOOPBACK_LIST.check(ip.address, ip.family))
      : host !== undefined && sameHost(host, self.host);
    if (isSelfHost && self.port === port) return "it is Stageplane's own API address";
  }
  if (deny.check(ip.address, ip.family)) return `${ip.address} is in a denied range (OUTBOUND_DENY_CIDRS)`;
  if (allow.check(ip.address, ip.family)) return null;
  if (ALWAYS.check(ip.address, ip.family)) return `${ip.address} is a link-local, metadata or unspecified address`;
  if (rule.production && PRODUCTION.check(ip.address, ip.family)) {
    return `${ip.address} is a loopback or private address (refused in production unless in OUTBOUND_ALLOW_CIDRS)`;
  }
  return null;
}

/**
 * Why `raw` may not be called by the worker, judged from the URL alone (scheme, credentials, a
 * literal IP or a name that is known to point inward), or null. Called when the URL is set; the
 * addresses a name resolves to are judged again at call time.
 */
export function outboundUrlRefusal(raw: string, rule: OutboundRule): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be a valid http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (!url.hostname) return 'must be a valid http(s) URL';
  if (url.username || url.password) return 'must not contain a user name or password';
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = defaultPort(url);
  if (normalized(host)) {
    const refusal = addressRefusal(host, port, rule, host);
    return refusal ? `must not point at ${host}: ${refusal}` : null;
  }
  // Names that always mean the machine itself or a metadata service, whatever DNS says later.
  if (host === 'localhost' || host.endsWith('.localhost')) {
    const refusal = addressRefusal('127.0.0.1', port, rule, host);
    return refusal ? `must not point at ${host}: ${refusal}` : null;
  }
  if (host === 'metadata.google.internal' || host === 'metadata') return `must not point at ${host}: a cloud metadata service`;
  for (const self of rule.self) {
    if (sameHost(host, self.host) && self.port === port) return `must not point at ${host}:${port}: it is Stageplane's own API address`;
  }
  return null;
}
