// OpenID Connect bearer tokens: people signed in through OIDC_ISSUER, and CI workloads whose
// platform's token matches a project's trust policies (services/trust-policies.ts).
//
// - A token is routed by its *unverified* `iss` only to choose the key set it is then verified
//   against; nothing else of it is believed before jose has checked the signature.
// - One key set per issuer: discovery (`<issuer>/.well-known/openid-configuration`, whose
//   `issuer` must equal it) once, then jose's remote JWKS (cached; a `kid` it does not hold
//   refetches at most every 30 s, jose's cooldown). An issuer that cannot be reached fails only
//   the tokens that need it.
// - Asymmetric algorithms only: an HS256 token carrying an OIDC issuer's `iss` (the algorithm
//   confusion attack, signed with its public key) is refused, never tried against JWT_SECRET.
// - Verified tokens are kept until their exp (as server/auth.ts does for JWT_SECRET tokens). A
//   workload's verified claims are kept, but its policies are matched on every request against
//   the in-memory policy snapshot, so a deleted policy stops working without a new verification.
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Queryable } from '../db/client.ts';
import { discoveryUrl, groupsOfClaim, rolesOfClaim, subjectMatcher } from '../domain/identity.ts';
import type { Principal } from '../domain/permissions.ts';
import type { Role } from '../domain/types.ts';
import { loadTrustPolicies, trustPoliciesGeneration } from '../services/trust-policies.ts';

/** Every asymmetric JWS algorithm jose verifies; HS* and `none` are not among them. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** jose's cooldown: a `kid` not in the cached set refetches the JWKS at most this often. */
export const JWKS_COOLDOWN_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;
/** After a failed discovery, the next token of that issuer waits this long before another try. */
const DISCOVERY_RETRY_MS = 5_000;
/** How long another replica's createTrustPolicy/deleteTrustPolicy may take to be seen here. */
export const TRUST_POLICY_TTL_MS = 10_000;
const VERIFIED_CACHE_SIZE = 10_000;

export type OidcResult = { principal: Principal; error: null } | { principal: null; error: string };

/** One issuer's keys: discovered once, then jose's cached remote key set. */
class IssuerKeys {
  private keys: JWTVerifyGetKey | null = null;
  private pending: Promise<JWTVerifyGetKey> | null = null;
  private failedAt = 0;

  constructor(
    readonly issuer: string,
    private readonly log: Logger,
  ) {}

  /** The key set, discovering it first; throws (a message fit for the client) when unreachable. */
  async get(): Promise<JWTVerifyGetKey> {
    if (this.keys) return this.keys;
    if (Date.now() - this.failedAt < DISCOVERY_RETRY_MS) throw new Error('unreachable');
    this.pending ??= this.discover().then(
      (keys) => {
        this.keys = keys;
        this.pending = null;
        return keys;
      },
      (error) => {
        this.failedAt = Date.now();
        this.pending = null;
        this.log.warn({ issuer: this.issuer, reason: (error as Error).message }, 'OIDC discovery failed');
        throw error;
      },
    );
    return this.pending;
  }

  private async discover(): Promise<JWTVerifyGetKey> {
    const url = discoveryUrl(this.issuer);
    // No redirects: the discovery document is the issuer's own, at its own address.
    const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    const doc = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (doc.issuer !== this.issuer) throw new Error(`${url} names another issuer (${JSON.stringify(doc.issuer)})`);
    if (typeof doc.jwks_uri !== 'string') throw new Error(`${url} has no jwks_uri`);
    const jwksUri = new URL(doc.jwks_uri);
    // https, or the issuer's own origin (an http issuer on loopback, outside production).
    if (jwksUri.protocol !== 'https:' && jwksUri.origin !== new URL(this.issuer).origin) {
      throw new Error(`${url}: jwks_uri must be https`);
    }
    return createRemoteJWKSet(jwksUri, { cooldownDuration: JWKS_COOLDOWN_MS, timeoutDuration: FETCH_TIMEOUT_MS });
  }
}

interface CompiledPolicy {
  projectId: string;
  matcher: RegExp;
  roles: readonly Role[];
}

/** The trust policies by issuer, then by audience. */
interface PolicySnapshot {
  generation: number;
  loadedAt: number;
  byIssuer: Map<string, Map<string, CompiledPolicy[]>>;
}

type Verified =
  | { kind: 'person'; principal: Principal; expiresAtMs: number }
  | {
      kind: 'workload';
      subject: string;
      issuer: string;
      audiences: string[];
      expiresAtMs: number;
      principal?: Principal;
      of?: PolicySnapshot;
    };

/** The OIDC side of authentication, one per process (`identityOf`). */
export class OidcIdentity {
  private readonly issuers = new Map<string, IssuerKeys>();
  private snapshot: PolicySnapshot | null = null;
  private loading: Promise<PolicySnapshot> | null = null;
  private readonly verified = new Map<string, Verified>();

  constructor(
    private readonly db: Queryable,
    private readonly oidc: Config['oidc'],
    private readonly log: Logger,
  ) {}

  /**
   * Whether `token` belongs to an OIDC issuer (OIDC_ISSUER or a trust policy's): then only
   * `authenticate` below may accept it. Reads nothing but the unverified `iss`.
   */
  async claims(token: string): Promise<boolean> {
    if (this.verified.has(token)) return true;
    const iss = unverifiedIssuer(token);
    if (iss === null) return false;
    if (this.oidc && iss === this.oidc.issuer) return true;
    return (await this.policies()).byIssuer.has(iss);
  }

  async authenticate(token: string): Promise<OidcResult> {
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.expiresAtMs <= Date.now()) {
        this.verified.delete(token);
        return { principal: null, error: 'Token has expired' };
      }
      return hit.kind === 'person' ? { principal: hit.principal, error: null } : this.workloadPrincipal(hit);
    }
    const iss = unverifiedIssuer(token)!;
    const policies = await this.policies();
    const aud = unverifiedAudiences(token);
    // OIDC_ISSUER's tokens for OIDC_AUDIENCE are people; its tokens for a trust policy's audience
    // (one identity provider for both) are workloads.
    const person = this.oidc !== null && iss === this.oidc.issuer && (aud.includes(this.oidc.audience) || !policies.byIssuer.has(iss));
    if (!person && !policies.byIssuer.has(iss)) return { principal: null, error: 'No trust policy matches this token (issuer)' };
    let payload: JWTPayload;
    try {
      const keys = await this.keysOf(iss).get();
      const audience = person ? this.oidc!.audience : [...policies.byIssuer.get(iss)!.keys()];
      ({ payload } = await jwtVerify(token, keys, {
        issuer: iss,
        audience,
        algorithms: ASYMMETRIC_ALGORITHMS,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      return { principal: null, error: refusalOf(error) };
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') return { principal: null, error: 'Token has no subject' };
    const expiresAtMs = payload.exp! * 1000;
    let entry: Verified;
    if (person) {
      const { rolesClaim, groupsClaim } = this.oidc!;
      const principal: Principal = Object.freeze({
        subject: payload.sub,
        roles: Object.freeze(rolesOfClaim(payload[rolesClaim])) as Role[],
        groups: Object.freeze(groupsOfClaim(payload[groupsClaim])),
        kind: 'oidc',
        issuer: iss,
      });
      entry = { kind: 'person', principal, expiresAtMs };
    } else {
      entry = { kind: 'workload', subject: payload.sub, issuer: iss, audiences: unverifiedAudiences(token), expiresAtMs };
    }
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, entry);
    return entry.kind === 'person' ? { principal: entry.principal, error: null } : this.workloadPrincipal(entry);
  }

  /** The workload as the current policies see it: the union of its matching policies' roles, per project. */
  private async workloadPrincipal(entry: Extract<Verified, { kind: 'workload' }>): Promise<OidcResult> {
    const snapshot = await this.policies();
    if (entry.of !== snapshot) {
      const byAudience = snapshot.byIssuer.get(entry.issuer);
      const boundTo: Record<string, Role[]> = {};
      for (const audience of entry.audiences) {
        for (const policy of byAudience?.get(audience) ?? []) {
          if (!policy.matcher.test(entry.subject)) continue;
          const roles = new Set([...(boundTo[policy.projectId] ?? []), ...policy.roles]);
          boundTo[policy.projectId] = [...roles];
        }
      }
      const projects = Object.keys(boundTo);
      entry.of = snapshot;
      entry.principal =
        projects.length === 0
          ? undefined
          : Object.freeze({
              subject: entry.subject,
              // The union, for the root 'read' check only; what counts in a project is boundTo.
              roles: Object.freeze([...new Set(projects.flatMap((p) => boundTo[p]!))]) as Role[],
              kind: 'workload' as const,
              issuer: entry.issuer,
              boundTo: Object.freeze(Object.fromEntries(projects.map((p) => [p, Object.freeze(boundTo[p]!)]))),
            });
    }
    return entry.principal
      ? { principal: entry.principal, error: null }
      : { principal: null, error: 'No trust policy matches this token (issuer, audience and subject)' };
  }

  private keysOf(issuer: string): IssuerKeys {
    let keys = this.issuers.get(issuer);
    if (!keys) this.issuers.set(issuer, (keys = new IssuerKeys(issuer, this.log)));
    return keys;
  }

  /**
   * The trust policies, from memory: reloaded after a change in this process (the generation of
   * services/trust-policies.ts) or TRUST_POLICY_TTL_MS after the last load (other replicas'
   * changes). While the database cannot answer, the last snapshot keeps serving.
   */
  private async policies(): Promise<PolicySnapshot> {
    const generation = trustPoliciesGeneration();
    const current = this.snapshot;
    if (current && current.generation === generation && Date.now() - current.loadedAt < TRUST_POLICY_TTL_MS) return current;
    this.loading ??= this.load(generation).finally(() => {
      this.loading = null;
    });
    try {
      return await this.loading;
    } catch (error) {
      if (current) {
        this.log.warn({ err: error }, 'could not reload trust policies; using the last ones');
        return current;
      }
      throw error;
    }
  }

  private async load(generation: number): Promise<PolicySnapshot> {
    const rows = await loadTrustPolicies(this.db);
    const byIssuer = new Map<string, Map<string, CompiledPolicy[]>>();
    for (const row of rows) {
      let byAudience = byIssuer.get(row.issuer);
      if (!byAudience) byIssuer.set(row.issuer, (byAudience = new Map()));
      let list = byAudience.get(row.audience);
      if (!list) byAudience.set(row.audience, (list = []));
      list.push({ projectId: row.projectId, matcher: subjectMatcher(row.subjectPattern), roles: row.roles });
    }
    const snapshot = { generation, loadedAt: Date.now(), byIssuer };
    // A change committed while this load ran is not in it: keep it only as the older generation.
    this.snapshot = snapshot;
    return snapshot;
  }
}

function unverifiedIssuer(token: string): string | null {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' && iss !== '' ? iss : null;
  } catch {
    return null;
  }
}

function unverifiedAudiences(token: string): string[] {
  try {
    const { aud } = decodeJwt(token);
    return typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
  } catch {
    return [];
  }
}

function refusalOf(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'Token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return error.claim === 'nbf' ? 'Token is not yet valid' : `Token is invalid: ${error.claim} claim`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'Token is invalid: its algorithm is not allowed for this issuer';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'Token is invalid: no key of its issuer matches it';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'Token is invalid: signature';
  // A JWKS that times out, cannot be fetched or is not a key set: the issuer's side, not the token's.
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid || !(error instanceof joseErrors.JOSEError)) {
    return "Token cannot be verified now: its issuer's keys are unreachable";
  }
  return 'Token is invalid';
}

const identities = new WeakMap<object, OidcIdentity>();

/** The process's OidcIdentity (one per Services: key sets and caches are shared by every transport). */
export function identityOf(services: { database: { db: Queryable }; config: Config; log: Logger }): OidcIdentity {
  let identity = identities.get(services);
  if (!identity) identities.set(services, (identity = new OidcIdentity(services.database.db, services.config.oidc, services.log)));
  return identity;
}
