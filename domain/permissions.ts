// The contract's "Who may do what" table (README.md) as plain functions. Pure: callers load
// the environment, deployment and principal and hand them in; nothing here reads anything.
import { personalDecisionRefusal } from './decisions.ts';
import { forbidden } from './errors.ts';
import type { EnvironmentType, Role } from './types.ts';

/**
 * Who is calling: from a JWT signed with JWT_SECRET, an OIDC token of OIDC_ISSUER, a CI
 * workload's OIDC token matched by trust policies, an API token, or a deployment's callback token.
 *
 * `roles` are the token's global roles. A principal bound to projects (`boundTo`: a
 * project-scoped API token; a workload, in the projects whose trust policies it matched) has
 * roles only there, `boundTo[projectId]`, and none globally. `globalRolesOf` and `rolesInProject`
 * say which roles count where. Authorization inside a project uses the principal `inProject`
 * returns (services/project-access.ts `actorInProject` loads the grants); actions outside any
 * project use `globalRolesOf`.
 */
export type Principal = {
  subject: string;
  roles: Role[];
  kind: 'jwt' | 'oidc' | 'workload' | 'api-token' | 'callback';
  /** The token's groups (OIDC_GROUPS_CLAIM): grants to a group apply to its members. */
  groups?: readonly string[];
  /** The `iss` of an OIDC or workload token; absent for JWT_SECRET tokens and API tokens. */
  issuer?: string;
  /** Roles per project id for a project-bound principal; it holds no role anywhere else. */
  boundTo?: Readonly<Record<string, readonly Role[]>>;
};

/** One grant of roles in a project, to a subject or to an OIDC group (project_members). */
export interface ProjectGrant {
  subject: string | null;
  group: string | null;
  roles: readonly Role[];
}

/** The roles that count outside any project (createProject, global API tokens, ...): none for a project-bound principal. */
export function globalRolesOf(principal: Principal): Role[] {
  return principal.boundTo ? [] : principal.roles;
}

/**
 * The roles `principal` has in a project: its global roles plus the grants to its subject and
 * to each of its groups. In a PRIVATE project global roles other than ADMIN do not count (the
 * contract: "global non-ADMIN roles do not reach into a PRIVATE project; grants do"). A
 * project-bound principal has its bound roles there and none elsewhere; grants do not widen it
 * (its roles were bounded when it was made). Callback tokens hold no role anywhere.
 * No roles at all: the project is invisible to it when PRIVATE.
 */
export function rolesInProject(
  principal: Principal,
  project: { id: string; visibility: 'INTERNAL' | 'PRIVATE' },
  grants: readonly ProjectGrant[],
): Role[] {
  if (principal.kind === 'callback') return [];
  if (principal.boundTo) return [...(principal.boundTo[project.id] ?? [])];
  const global = project.visibility === 'PRIVATE' ? principal.roles.filter((r) => r === 'ADMIN') : principal.roles;
  const roles = new Set<Role>(global);
  const groups = new Set(principal.groups ?? []);
  for (const grant of grants) {
    if ((grant.subject !== null && grant.subject === principal.subject) || (grant.group !== null && groups.has(grant.group))) {
      for (const role of grant.roles) roles.add(role);
    }
  }
  return [...roles];
}

/** The principal as authorize() should see it in one project: same identity, that project's roles. */
export function inProject(principal: Principal, roles: Role[]): Principal {
  return Object.freeze({ ...principal, roles });
}

/** The principal as authorize() should see it outside any project (createProject, global API tokens). */
export function globalActor(principal: Principal): Principal {
  return inProject(principal, globalRolesOf(principal));
}

/** Every mutation of the contract, plus 'read' for queries and subscriptions. */
export const ACTIONS = [
  'read',
  'createProject',
  'createApiToken',
  'revokeApiToken',
  'revealSecretValue',
  'createEnvironment',
  'createSecret',
  'updateSecret',
  'deleteSecret',
  'createDatabaseConnection',
  'updateEnvironment',
  'updateEnvironmentSettings',
  'archiveEnvironment',
  'setDatabaseConnectionValue',
  'setSecretValue',
  'rotateSecret',
  'recordPush',
  'deploy',
  'promote',
  'rollback',
  'approveDeployment',
  'rejectDeployment',
  'cancelDeployment',
  'reportDeploymentStatus',
  'setProjectVisibility',
  'grantProjectRoles',
  'revokeProjectRoles',
  'createTrustPolicy',
  'deleteTrustPolicy',
  // v2: verification and automatic rollback
  'releaseQuarantine',
  'resumeAutoDeploy',
  'setPreviewPolicy',
  'createNotificationChannel',
  'deleteNotificationChannel',
  'testNotificationChannel',
  // v2, freeze windows
  'createFreezeWindow',
  'deleteFreezeWindow',
] as const;
export type Action = (typeof ACTIONS)[number];

/** What an environment-scoped rule needs to know about the environment. */
export interface EnvironmentAuthContext {
  type: EnvironmentType;
  policy: { deployerRoles: Role[]; approverRoles: Role[]; preventSelfApproval: boolean };
  /** Only for the refusal's wording ("promote into production needs ..."). */
  slug?: string;
}

/** Everything any row may need; which parts a row needs is `PERMISSION_TABLE[i].needs`. */
export interface AuthorizationContext {
  environment?: EnvironmentAuthContext;
  deployment?: {
    requestedBy: string;
    /** Subjects whose approval or rejection of this deployment counts (not invalidated). */
    alreadyDecidedBy?: string[];
  };
  /** reportDeploymentStatus: the deployment the call is about. */
  deploymentId?: string;
  /** reportDeploymentStatus: the deployment whose callback token authenticated the call. */
  callbackDeploymentId?: string;
  /** Notification channels: the union of every environment's policy.deployerRoles in the project. */
  projectDeployerRoles?: readonly Role[];
  /** deleteFreezeWindow: the window's creator. */
  freezeWindow?: { createdBy: string };
}

export type ContextPart = 'environment' | 'deployment' | 'deploymentId' | 'projectDeployerRoles' | 'freezeWindow';

/** How a row decides. ADMIN passes every rule except 'own-callback' (see authorize). */
export type PermissionRule =
  | { kind: 'any-role' }
  | { kind: 'roles'; roles: readonly Role[] }
  | { kind: 'environment-deployers'; productionAdminOnly: boolean }
  | { kind: 'environment-approvers' }
  | { kind: 'requester-or-deployers' }
  | { kind: 'project-deployers' }
  | { kind: 'own-callback' }
  | { kind: 'creator-or-admin' };

export interface PermissionRow {
  action: Action;
  /** The contract's "who" column, for docs. */
  who: string;
  rule: PermissionRule;
  /** Context parts without which the row refuses (fails closed). */
  needs: readonly ContextPart[];
}

export type RefusalRule =
  | 'role' // the principal lacks a role the row asks for
  | 'production-admin-only'
  | 'self-approval'
  | 'once-per-person'
  | 'callback-token'
  | 'missing-context'; // a caller bug: the row's context was not supplied

export type Decision = { allowed: true } | { allowed: false; reason: string; rule: RefusalRule };

const ADMIN_ONLY: PermissionRule = { kind: 'roles', roles: ['ADMIN'] };
const DEVELOPER: PermissionRule = { kind: 'roles', roles: ['DEVELOPER'] };
const CHANGE_ONE_ENVIRONMENT: PermissionRule = { kind: 'environment-deployers', productionAdminOnly: true };
const DEPLOY_INTO: PermissionRule = { kind: 'environment-deployers', productionAdminOnly: false };
const CHANGE_WHO = "a role in the environment's policy.deployerRoles; in PRODUCTION environments ADMIN only";
const DEPLOY_WHO = "a role in the target environment's policy.deployerRoles, or ADMIN";
const DECIDE_WHO =
  "a role in the environment's policy.approverRoles, or ADMIN; never the requester where preventSelfApproval; once per person (ADMIN included)";

const NOTIFY_WHO = "a role in any environment's policy.deployerRoles of the project, or ADMIN";

const row = (action: Action, who: string, rule: PermissionRule, needs: readonly ContextPart[] = []): PermissionRow =>
  Object.freeze({ action, who, rule, needs: Object.freeze([...needs]) });

/**
 * One row per action, in ACTIONS order. authorize() decides from this table. The principal it is
 * given carries the roles of the project the action acts in (services/project-access.ts
 * actorInProject); actions outside any project get `globalActor(principal)`.
 */
export const PERMISSION_TABLE: readonly PermissionRow[] = Object.freeze([
  row('read', 'any authenticated principal with at least one role (not a callback token)', { kind: 'any-role' }),
  row('createProject', 'ADMIN', ADMIN_ONLY),
  row(
    'createApiToken',
    'ADMIN (and only roles the creator holds, see canGrantRoles); a project token: ADMIN in that project, roles bounded by those there',
    ADMIN_ONLY,
  ),
  row('revokeApiToken', 'ADMIN; a project token also ADMIN in its project', ADMIN_ONLY),
  row('revealSecretValue', 'ADMIN', ADMIN_ONLY),
  row('createEnvironment', 'DEVELOPER or ADMIN', DEVELOPER),
  row('createSecret', 'DEVELOPER or ADMIN', DEVELOPER),
  row('updateSecret', 'DEVELOPER or ADMIN', DEVELOPER),
  row('deleteSecret', 'DEVELOPER or ADMIN', DEVELOPER),
  row('createDatabaseConnection', 'DEVELOPER or ADMIN', DEVELOPER),
  row('updateEnvironment', CHANGE_WHO, CHANGE_ONE_ENVIRONMENT, ['environment']),
  row('updateEnvironmentSettings', CHANGE_WHO, CHANGE_ONE_ENVIRONMENT, ['environment']),
  row('archiveEnvironment', CHANGE_WHO, CHANGE_ONE_ENVIRONMENT, ['environment']),
  row('setDatabaseConnectionValue', CHANGE_WHO, CHANGE_ONE_ENVIRONMENT, ['environment']),
  row('setSecretValue', CHANGE_WHO, CHANGE_ONE_ENVIRONMENT, ['environment']),
  row('rotateSecret', CHANGE_WHO, CHANGE_ONE_ENVIRONMENT, ['environment']),
  row('recordPush', 'DEVELOPER or ADMIN', DEVELOPER),
  row('deploy', DEPLOY_WHO, DEPLOY_INTO, ['environment']),
  row('promote', DEPLOY_WHO, DEPLOY_INTO, ['environment']),
  row('rollback', DEPLOY_WHO, DEPLOY_INTO, ['environment']),
  row('approveDeployment', DECIDE_WHO, { kind: 'environment-approvers' }, ['environment', 'deployment']),
  row('rejectDeployment', DECIDE_WHO, { kind: 'environment-approvers' }, ['environment', 'deployment']),
  row(
    'cancelDeployment',
    "the deployment's requester, or a role in the environment's policy.deployerRoles, or ADMIN",
    { kind: 'requester-or-deployers' },
    ['environment', 'deployment'],
  ),
  row('reportDeploymentStatus', "only the deployment's own callback token (not ADMIN, not any other token)", { kind: 'own-callback' }, [
    'deploymentId',
  ]),
  // v2: decided with the roles in that project, so a global ADMIN or an ADMIN granted there.
  row('setProjectVisibility', 'ADMIN (global, or granted in that project)', ADMIN_ONLY),
  row('grantProjectRoles', 'ADMIN (global, or granted in that project)', ADMIN_ONLY),
  row('revokeProjectRoles', 'ADMIN (global, or granted in that project)', ADMIN_ONLY),
  // Called with the actor's roles in the policy's project (services/project-access.ts actorInProject).
  row('createTrustPolicy', 'ADMIN (global, or granted in the project)', ADMIN_ONLY),
  row('deleteTrustPolicy', 'ADMIN (global, or granted in the project)', ADMIN_ONLY),
  // Deploy decisions, not configuration changes: deployers in every environment type (contract v2).
  row('releaseQuarantine', DEPLOY_WHO, DEPLOY_INTO, ['environment']),
  row('resumeAutoDeploy', DEPLOY_WHO, DEPLOY_INTO, ['environment']),
  // In a project: authorized with actorInProject's principal (a DEVELOPER of that project).
  row('setPreviewPolicy', 'DEVELOPER (of the project) or ADMIN', DEVELOPER),
  ...(['createNotificationChannel', 'deleteNotificationChannel', 'testNotificationChannel'] as const).map((action) =>
    row(action, NOTIFY_WHO, { kind: 'project-deployers' }, ['projectDeployerRoles']),
  ),
  row('createFreezeWindow', 'any role in the project other than VIEWER', { kind: 'roles', roles: ['DEVELOPER', 'QA', 'APPROVER'] }),
  row('deleteFreezeWindow', "the window's creator, or ADMIN", { kind: 'creator-or-admin' }, ['freezeWindow']),
]);

const ROWS = new Map<Action, PermissionRow>(PERMISSION_TABLE.map((r) => [r.action, r]));
const ALLOWED: Decision = Object.freeze({ allowed: true });
const refuse = (rule: RefusalRule, reason: string): Decision => ({ allowed: false, reason, rule });

const hasAny = (principal: Principal, roles: readonly Role[]) => principal.roles.some((r) => roles.includes(r));
const isAdmin = (principal: Principal) => principal.roles.includes('ADMIN');
const envLabel = (env: EnvironmentAuthContext) => env.slug ?? `a ${env.type} environment`;
const needsRoles = (what: string, roles: readonly Role[], field: string) =>
  roles.length === 0
    ? `${what} is reserved to ADMIN (its policy.${field} is empty)`
    : roles.length === 1
      ? `${what} needs the role ${roles[0]}`
      : `${what} needs one of the roles ${roles.join(', ')}`;

/**
 * Decides whether `principal` may do `action`. Never throws. Choices where the contract is silent:
 * - ADMIN passes every role rule, but preventSelfApproval and once-per-person bind ADMIN too:
 *   they protect the integrity of an approval (four eyes, one vote each), not access.
 * - reportDeploymentStatus is only for the deployment's own callback token, so ADMIN is refused;
 *   a callback token may do nothing else, not even read, whatever roles it carries.
 * - 'read' needs at least one role: a token with an empty role list holds no "authenticated role".
 * - jwt and api-token principals are treated alike.
 * - A row whose context is missing refuses (rule 'missing-context'): a caller bug must not open a door.
 * - A principal with no role (in the project it acts in) is refused every row, the requester's
 *   own cancel included.
 */
export function authorize(action: Action, principal: Principal, context: AuthorizationContext = {}): Decision {
  const entry = ROWS.get(action);
  if (!entry) return refuse('role', `${String(action)} is not an action anyone may perform`);

  if (principal.kind === 'callback' && entry.rule.kind !== 'own-callback') {
    return refuse('callback-token', "a deployment's callback token may only call reportDeploymentStatus");
  }
  for (const part of entry.needs) {
    if (context[part] === undefined) return refuse('missing-context', `${action} cannot be authorized without its ${part}`);
  }
  // No role at all (in this project): nothing, not even as a deployment's requester. A project
  // token of another project, or a former member, must not cancel what its subject once requested.
  if (entry.rule.kind !== 'own-callback' && principal.roles.length === 0) {
    return refuse('role', action === 'read' ? 'reading needs at least one role' : `${action} needs a role in this project`);
  }

  const rule = entry.rule;
  switch (rule.kind) {
    case 'any-role':
      return principal.roles.length > 0 ? ALLOWED : refuse('role', 'reading needs at least one role');

    case 'roles':
      if (isAdmin(principal) || hasAny(principal, rule.roles)) return ALLOWED;
      return refuse('role', needsRoles(action, rule.roles, 'roles'));

    case 'environment-deployers': {
      if (isAdmin(principal)) return ALLOWED;
      const env = context.environment!;
      const verb = rule.productionAdminOnly ? `${action} in` : `${action} into`;
      if (rule.productionAdminOnly && env.type === 'PRODUCTION') {
        return refuse('production-admin-only', `${verb} ${envLabel(env)} needs the role ADMIN (a PRODUCTION environment)`);
      }
      if (hasAny(principal, env.policy.deployerRoles)) return ALLOWED;
      return refuse('role', needsRoles(`${verb} ${envLabel(env)}`, env.policy.deployerRoles, 'deployerRoles'));
    }

    case 'environment-approvers': {
      const env = context.environment!;
      const deployment = context.deployment!;
      const verb = action === 'approveDeployment' ? 'approve' : 'reject';
      if (!isAdmin(principal) && !hasAny(principal, env.policy.approverRoles)) {
        return refuse('role', needsRoles(`${action} in ${envLabel(env)}`, env.policy.approverRoles, 'approverRoles'));
      }
      const personal = personalDecisionRefusal(principal.subject, verb, {
        preventSelfApproval: env.policy.preventSelfApproval,
        requestedBy: deployment.requestedBy,
        alreadyDecidedBy: deployment.alreadyDecidedBy ?? [],
      });
      return personal ? refuse(personal.rule, personal.reason) : ALLOWED;
    }

    case 'requester-or-deployers': {
      const env = context.environment!;
      if (isAdmin(principal) || context.deployment!.requestedBy === principal.subject) return ALLOWED;
      if (hasAny(principal, env.policy.deployerRoles)) return ALLOWED;
      const roles = env.policy.deployerRoles;
      return refuse(
        'role',
        roles.length === 0
          ? `only the requester or ADMIN may cancel a deployment of ${envLabel(env)}`
          : `cancelDeployment in ${envLabel(env)} needs the requester or one of the roles ${roles.join(', ')}`,
      );
    }

    case 'project-deployers': {
      const roles = context.projectDeployerRoles!;
      if (isAdmin(principal) || hasAny(principal, roles)) return ALLOWED;
      return refuse('role', needsRoles(`${action} in this project`, roles, 'deployerRoles of its environments'));
    }

    case 'creator-or-admin':
      if (isAdmin(principal) || context.freezeWindow!.createdBy === principal.subject) return ALLOWED;
      return refuse('role', `only its creator (${context.freezeWindow!.createdBy}) or ADMIN may ${action}`);

    case 'own-callback':
      if (principal.kind !== 'callback') {
        return refuse('callback-token', "reportDeploymentStatus needs the deployment's own callback token");
      }
      if (!context.callbackDeploymentId || context.callbackDeploymentId !== context.deploymentId) {
        return refuse('callback-token', 'this callback token belongs to another deployment');
      }
      return ALLOWED;
  }
}

/**
 * Breaking a freeze window's glass (deploy/promote with overrideFreeze): a role in the target's
 * policy.freezeOverrideRoles (default [ADMIN]), or ADMIN. Not a row of the table: it is a
 * condition on deploy and promote, which their own rows authorize first.
 */
export function authorizeFreezeOverride(principal: Principal, env: { slug?: string; policy: { freezeOverrideRoles?: Role[] } }): Decision {
  if (principal.kind === 'callback') return refuse('callback-token', "a deployment's callback token may only call reportDeploymentStatus");
  const roles = env.policy.freezeOverrideRoles ?? ['ADMIN'];
  if (isAdmin(principal) || hasAny(principal, roles)) return ALLOWED;
  return refuse('role', needsRoles(`overriding a freeze window of ${env.slug ?? 'this environment'}`, roles, 'freezeOverrideRoles'));
}

/** authorize(), throwing FORBIDDEN with the reason when refused. */
export function assertAuthorized(action: Action, principal: Principal, context?: AuthorizationContext): void {
  const decision = authorize(action, principal, context);
  if (!decision.allowed) throw forbidden(decision.reason);
}

/**
 * "An API token may not be given a role that its creator lacks", literally: the creator must
 * hold each role, except that ADMIN holds every role implicitly (ADMIN may do everything, so a
 * token with any role can do nothing ADMIN cannot). A callback token holds no grantable role.
 */
export function canGrantRoles(creator: Principal, roles: Role[]): boolean {
  return missingGrantRoles(creator, roles).length === 0;
}

/** The roles of `roles` that `creator` may not grant, in the order given (for messages). */
export function missingGrantRoles(creator: Principal, roles: Role[]): Role[] {
  if (creator.kind === 'callback') return [...roles];
  if (isAdmin(creator)) return [];
  return roles.filter((r) => !creator.roles.includes(r));
}

/** canGrantRoles(), throwing FORBIDDEN naming the roles the creator lacks. */
export function assertCanGrantRoles(creator: Principal, roles: Role[]): void {
  const missing = missingGrantRoles(creator, roles);
  if (missing.length > 0) {
    throw forbidden(`an API token may not be given a role its creator lacks: ${[...new Set(missing)].join(', ')}`);
  }
}
