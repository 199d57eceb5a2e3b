import { describe, it, expect } from 'vitest';
import { AppError } from '../../domain/errors.ts';
import {
  ACTIONS,
  PERMISSION_TABLE,
  assertAuthorized,
  assertCanGrantRoles,
  authorize,
  canGrantRoles,
  globalActor,
  globalRolesOf,
  inProject,
  missingGrantRoles,
  rolesInProject,
  type Action,
  type AuthorizationContext,
  type EnvironmentAuthContext,
  type Principal,
  type ProjectGrant,
} from '../../domain/permissions.ts';
import type { Role } from '../../domain/types.ts';

const ROLES: Role[] = ['VIEWER', 'DEVELOPER', 'QA', 'APPROVER', 'ADMIN'];
const ALL = ROLES;

// Copied from schema.graphql's Mutation type, independently of ACTIONS.
const CONTRACT_MUTATIONS = [
  'createProject',
  'createEnvironment',
  'updateEnvironment',
  'updateEnvironmentSettings',
  'archiveEnvironment',
  'createDatabaseConnection',
  'setDatabaseConnectionValue',
  'createSecret',
  'updateSecret',
  'deleteSecret',
  'setSecretValue',
  'rotateSecret',
  'revealSecretValue',
  'recordPush',
  'deploy',
  'promote',
  'approveDeployment',
  'rejectDeployment',
  'cancelDeployment',
  'rollback',
  'reportDeploymentStatus',
  'createApiToken',
  'revokeApiToken',
  // schema-v2.graphql, identity and project access
  'setProjectVisibility',
  'grantProjectRoles',
  'revokeProjectRoles',
  // schema-v2.graphql
  'createTrustPolicy',
  'deleteTrustPolicy',
  // v2 (schema-v2.graphql), verification and automatic rollback
  'releaseQuarantine',
  'resumeAutoDeploy',
  // v2 (schema-v2.graphql)
  'setPreviewPolicy',
  // v2, notifications
  'createNotificationChannel',
  'deleteNotificationChannel',
  'testNotificationChannel',
  // v2, freeze windows
  'createFreezeWindow',
  'deleteFreezeWindow',
];

// Environments shaped like the contract's defaults, plus two that tell rules apart.
const development: EnvironmentAuthContext = {
  slug: 'development',
  type: 'DEVELOPMENT',
  policy: { deployerRoles: ['DEVELOPER', 'QA', 'APPROVER'], approverRoles: [], preventSelfApproval: true },
};
const staging: EnvironmentAuthContext = {
  slug: 'staging',
  type: 'STAGING',
  policy: { deployerRoles: ['DEVELOPER', 'QA', 'APPROVER'], approverRoles: [], preventSelfApproval: true },
};
const production: EnvironmentAuthContext = {
  slug: 'production',
  type: 'PRODUCTION',
  policy: { deployerRoles: ['QA', 'APPROVER'], approverRoles: ['APPROVER'], preventSelfApproval: true },
};
// A CUSTOM environment whose roles differ from every default, without self-approval protection.
const loadTest: EnvironmentAuthContext = {
  slug: 'load-test',
  type: 'CUSTOM',
  policy: { deployerRoles: ['QA'], approverRoles: ['QA', 'VIEWER'], preventSelfApproval: false },
};
// Empty role lists: only ADMIN gets through.
const lockedDown: EnvironmentAuthContext = {
  type: 'DEVELOPMENT',
  policy: { deployerRoles: [], approverRoles: [], preventSelfApproval: true },
};
// A production environment whose deployerRoles would allow everyone: the exception still holds.
const openProduction: EnvironmentAuthContext = {
  slug: 'prod-eu',
  type: 'PRODUCTION',
  policy: { deployerRoles: ['VIEWER', 'DEVELOPER', 'QA', 'APPROVER'], approverRoles: ['VIEWER'], preventSelfApproval: true },
};

const SUBJECT = 'alice';
const byBob = { requestedBy: 'bob', alreadyDecidedBy: [] as string[] };
const principal = (roles: Role[], kind: Principal['kind'] = 'jwt', subject = SUBJECT): Principal => ({ subject, roles, kind });

interface Scenario {
  name: string;
  context?: AuthorizationContext;
  allowed: Role[];
}

const changeOneEnvironment: Scenario[] = [
  { name: 'in development', context: { environment: development }, allowed: ['DEVELOPER', 'QA', 'APPROVER', 'ADMIN'] },
  { name: 'in staging', context: { environment: staging }, allowed: ['DEVELOPER', 'QA', 'APPROVER', 'ADMIN'] },
  { name: 'in production (ADMIN only)', context: { environment: production }, allowed: ['ADMIN'] },
  { name: 'in a production whose deployerRoles name every role', context: { environment: openProduction }, allowed: ['ADMIN'] },
  { name: 'in a CUSTOM environment deployable by QA', context: { environment: loadTest }, allowed: ['QA', 'ADMIN'] },
  { name: 'in an environment with no deployerRoles', context: { environment: lockedDown }, allowed: ['ADMIN'] },
];

const deployInto: Scenario[] = [
  { name: 'into development', context: { environment: development }, allowed: ['DEVELOPER', 'QA', 'APPROVER', 'ADMIN'] },
  { name: 'into staging', context: { environment: staging }, allowed: ['DEVELOPER', 'QA', 'APPROVER', 'ADMIN'] },
  { name: 'into production', context: { environment: production }, allowed: ['QA', 'APPROVER', 'ADMIN'] },
  { name: 'into a production whose deployerRoles name every role', context: { environment: openProduction }, allowed: ALL },
  { name: 'into a CUSTOM environment deployable by QA', context: { environment: loadTest }, allowed: ['QA', 'ADMIN'] },
  { name: 'into an environment with no deployerRoles', context: { environment: lockedDown }, allowed: ['ADMIN'] },
];

const decide: Scenario[] = [
  {
    name: 'in production (approverRoles APPROVER)',
    context: { environment: production, deployment: byBob },
    allowed: ['APPROVER', 'ADMIN'],
  },
  { name: 'in staging (no approverRoles)', context: { environment: staging, deployment: byBob }, allowed: ['ADMIN'] },
  {
    name: 'in a CUSTOM environment (approverRoles QA, VIEWER)',
    context: { environment: loadTest, deployment: byBob },
    allowed: ['VIEWER', 'QA', 'ADMIN'],
  },
];

// Notification channels: a role in any environment's deployerRoles of the project, or ADMIN.
const notifyChannels: Scenario[] = [
  {
    name: 'in a project deployable by DEVELOPER and QA',
    context: { projectDeployerRoles: ['DEVELOPER', 'QA'] },
    allowed: ['DEVELOPER', 'QA', 'ADMIN'],
  },
  { name: 'in a project whose environments have no deployerRoles', context: { projectDeployerRoles: [] }, allowed: ['ADMIN'] },
];

const adminOnly: Scenario[] = [{ name: 'anywhere', allowed: ['ADMIN'] }];
const developer: Scenario[] = [{ name: 'anywhere', allowed: ['DEVELOPER', 'ADMIN'] }];

// The contract's table, written out per role independently of PERMISSION_TABLE.
const EXPECTED: Record<Action, Scenario[]> = {
  read: [{ name: 'queries and subscriptions', allowed: ALL }],
  createProject: adminOnly,
  createApiToken: adminOnly,
  revokeApiToken: adminOnly,
  revealSecretValue: adminOnly,
  createEnvironment: developer,
  createSecret: developer,
  updateSecret: developer,
  deleteSecret: developer,
  createDatabaseConnection: developer,
  updateEnvironment: changeOneEnvironment,
  updateEnvironmentSettings: changeOneEnvironment,
  archiveEnvironment: changeOneEnvironment,
  setDatabaseConnectionValue: changeOneEnvironment,
  setSecretValue: changeOneEnvironment,
  rotateSecret: changeOneEnvironment,
  recordPush: developer,
  setPreviewPolicy: developer,
  deploy: deployInto,
  promote: deployInto,
  rollback: deployInto,
  approveDeployment: decide,
  rejectDeployment: decide,
  cancelDeployment: [
    {
      name: 'of someone else in staging',
      context: { environment: staging, deployment: byBob },
      allowed: ['DEVELOPER', 'QA', 'APPROVER', 'ADMIN'],
    },
    {
      name: 'of someone else in production',
      context: { environment: production, deployment: byBob },
      allowed: ['QA', 'APPROVER', 'ADMIN'],
    },
    { name: 'of someone else with no deployerRoles', context: { environment: lockedDown, deployment: byBob }, allowed: ['ADMIN'] },
    { name: 'of their own in production', context: { environment: production, deployment: { requestedBy: SUBJECT } }, allowed: ALL },
    {
      name: 'of their own with no deployerRoles',
      context: { environment: lockedDown, deployment: { requestedBy: SUBJECT } },
      allowed: ALL,
    },
  ],
  setProjectVisibility: adminOnly,
  grantProjectRoles: adminOnly,
  revokeProjectRoles: adminOnly,
  createTrustPolicy: adminOnly,
  deleteTrustPolicy: adminOnly,
  // v2: deploy decisions, so deployers in every environment type (production included), or ADMIN.
  releaseQuarantine: deployInto,
  resumeAutoDeploy: deployInto,
  createNotificationChannel: notifyChannels,
  deleteNotificationChannel: notifyChannels,
  testNotificationChannel: notifyChannels,
  reportDeploymentStatus: [
    { name: 'with a user token', context: { deploymentId: 'd1' }, allowed: [] },
    {
      name: 'with a user token even if a callback id is claimed',
      context: { deploymentId: 'd1', callbackDeploymentId: 'd1' },
      allowed: [],
    },
  ],
  createFreezeWindow: [{ name: 'in a project', allowed: ['DEVELOPER', 'QA', 'APPROVER', 'ADMIN'] }],
  deleteFreezeWindow: [
    { name: "someone else's", context: { freezeWindow: { createdBy: 'bob' } }, allowed: ['ADMIN'] },
    { name: 'their own', context: { freezeWindow: { createdBy: SUBJECT } }, allowed: ALL },
  ],
};

// Every context an action might be given, to show the callback token is refused regardless.
const FULL_CONTEXT: AuthorizationContext = {
  environment: development,
  deployment: byBob,
  deploymentId: 'd1',
  callbackDeploymentId: 'd2',
  projectDeployerRoles: ['DEVELOPER'],
};

describe('PERMISSION_TABLE', () => {
  it('has one row per action, in ACTIONS order', () => {
    expect(PERMISSION_TABLE.map((r) => r.action)).toEqual([...ACTIONS]);
  });

  it("covers exactly the contract's mutations plus read", () => {
    expect([...ACTIONS].sort()).toEqual(['read', ...CONTRACT_MUTATIONS].sort());
  });

  it('has an expectation here for every row', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(PERMISSION_TABLE.map((r) => r.action).sort());
  });

  it('describes who for every row', () => {
    for (const row of PERMISSION_TABLE) expect(row.who.length, row.action).toBeGreaterThan(2);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(PERMISSION_TABLE)).toBe(true);
    expect(Object.isFrozen(PERMISSION_TABLE[0])).toBe(true);
  });
});

describe('authorize: every row, every role', () => {
  for (const row of PERMISSION_TABLE) {
    describe(row.action, () => {
      for (const scenario of EXPECTED[row.action]) {
        for (const role of ROLES) {
          const allowed = scenario.allowed.includes(role);
          for (const kind of ['jwt', 'api-token'] as const) {
            it(`${role} (${kind}) ${allowed ? 'may' : 'may not'} ${row.action} ${scenario.name}`, () => {
              const decision = authorize(row.action, principal([role], kind), scenario.context);
              expect(decision.allowed).toBe(allowed);
              if (!decision.allowed) expect(decision.reason).toMatch(/\S/);
            });
          }
        }
      }
    });
  }
});

describe('authorize: principals with several roles', () => {
  it('uses any of the roles held', () => {
    expect(authorize('promote', principal(['VIEWER', 'QA']), { environment: production }).allowed).toBe(true);
    expect(authorize('createSecret', principal(['VIEWER', 'DEVELOPER'])).allowed).toBe(true);
  });

  it('still refuses production changes to every role but ADMIN', () => {
    const d = authorize('updateEnvironmentSettings', principal(['DEVELOPER', 'QA', 'APPROVER']), { environment: production });
    expect(d).toMatchObject({ allowed: false, rule: 'production-admin-only' });
  });

  it('refuses read to a principal without roles', () => {
    expect(authorize('read', principal([])).allowed).toBe(false);
    expect(authorize('createEnvironment', principal([])).allowed).toBe(false);
  });
});

describe('authorize: approvals', () => {
  for (const action of ['approveDeployment', 'rejectDeployment'] as const) {
    describe(action, () => {
      it('refuses the requester where preventSelfApproval', () => {
        const d = authorize(action, principal(['APPROVER']), {
          environment: production,
          deployment: { requestedBy: SUBJECT, alreadyDecidedBy: [] },
        });
        expect(d).toMatchObject({ allowed: false, rule: 'self-approval' });
      });

      it('refuses ADMIN as requester too where preventSelfApproval', () => {
        const d = authorize(action, principal(['ADMIN']), {
          environment: production,
          deployment: { requestedBy: SUBJECT, alreadyDecidedBy: [] },
        });
        expect(d).toMatchObject({ allowed: false, rule: 'self-approval' });
      });

      it('allows the requester where preventSelfApproval is off', () => {
        const d = authorize(action, principal(['QA']), {
          environment: loadTest,
          deployment: { requestedBy: SUBJECT, alreadyDecidedBy: [] },
        });
        expect(d.allowed).toBe(true);
      });

      it('allows the requester where preventSelfApproval is off, and ADMIN too', () => {
        const d = authorize(action, principal(['ADMIN']), {
          environment: loadTest,
          deployment: { requestedBy: SUBJECT, alreadyDecidedBy: [] },
        });
        expect(d.allowed).toBe(true);
      });

      it('refuses a second decision by the same person (once per person)', () => {
        const d = authorize(action, principal(['APPROVER']), {
          environment: production,
          deployment: { requestedBy: 'bob', alreadyDecidedBy: ['carol', SUBJECT] },
        });
        expect(d).toMatchObject({ allowed: false, rule: 'once-per-person' });
      });

      it('refuses a second decision by ADMIN too', () => {
        const d = authorize(action, principal(['ADMIN']), {
          environment: production,
          deployment: { requestedBy: 'bob', alreadyDecidedBy: [SUBJECT] },
        });
        expect(d).toMatchObject({ allowed: false, rule: 'once-per-person' });
      });

      it('allows when only others have decided', () => {
        const d = authorize(action, principal(['APPROVER']), {
          environment: production,
          deployment: { requestedBy: 'bob', alreadyDecidedBy: ['carol', 'dave'] },
        });
        expect(d.allowed).toBe(true);
      });

      it('checks the role before the integrity rules', () => {
        const d = authorize(action, principal(['DEVELOPER']), {
          environment: production,
          deployment: { requestedBy: SUBJECT, alreadyDecidedBy: [SUBJECT] },
        });
        expect(d).toMatchObject({ allowed: false, rule: 'role' });
      });

      it('refuses without the deployment (it cannot check the integrity rules)', () => {
        const d = authorize(action, principal(['ADMIN']), { environment: production });
        expect(d).toMatchObject({ allowed: false, rule: 'missing-context' });
      });
    });
  }
});

describe('authorize: callback tokens', () => {
  const callback = (roles: Role[] = []) => principal(roles, 'callback', 'callback:d1');

  it('lets the deployment own callback token report its status', () => {
    expect(authorize('reportDeploymentStatus', callback(), { deploymentId: 'd1', callbackDeploymentId: 'd1' }).allowed).toBe(true);
  });

  it("refuses another deployment's callback token", () => {
    const d = authorize('reportDeploymentStatus', callback(), { deploymentId: 'd1', callbackDeploymentId: 'd2' });
    expect(d).toMatchObject({ allowed: false, rule: 'callback-token' });
  });

  it('refuses a callback token whose deployment is unknown', () => {
    expect(authorize('reportDeploymentStatus', callback(), { deploymentId: 'd1' }).allowed).toBe(false);
    expect(authorize('reportDeploymentStatus', callback(), { deploymentId: '', callbackDeploymentId: '' }).allowed).toBe(false);
  });

  it('refuses ADMIN user tokens', () => {
    for (const kind of ['jwt', 'api-token'] as const) {
      const d = authorize('reportDeploymentStatus', principal(['ADMIN'], kind), { deploymentId: 'd1', callbackDeploymentId: 'd1' });
      expect(d).toMatchObject({ allowed: false, rule: 'callback-token' });
    }
  });

  for (const action of ACTIONS.filter((a) => a !== 'reportDeploymentStatus')) {
    it(`refuses ${action} to a callback token, even one carrying ADMIN`, () => {
      const d = authorize(action, callback(['ADMIN']), FULL_CONTEXT);
      expect(d).toMatchObject({ allowed: false, rule: 'callback-token' });
    });
  }
});

describe('authorize: missing context fails closed', () => {
  const environmentRows = PERMISSION_TABLE.filter((r) => r.needs.includes('environment'));

  it('applies to every environment-scoped row', () => {
    expect(environmentRows.map((r) => r.action).sort()).toEqual(
      [
        'updateEnvironment',
        'updateEnvironmentSettings',
        'archiveEnvironment',
        'setDatabaseConnectionValue',
        'setSecretValue',
        'rotateSecret',
        'deploy',
        'promote',
        'rollback',
        'approveDeployment',
        'rejectDeployment',
        'cancelDeployment',
        'releaseQuarantine',
        'resumeAutoDeploy',
      ].sort(),
    );
  });

  for (const row of environmentRows) {
    it(`${row.action} without an environment is refused, even to ADMIN`, () => {
      expect(authorize(row.action, principal(['ADMIN']))).toMatchObject({ allowed: false, rule: 'missing-context' });
    });
  }

  it('cancelDeployment without the deployment is refused', () => {
    expect(authorize('cancelDeployment', principal(['QA']), { environment: staging })).toMatchObject({
      allowed: false,
      rule: 'missing-context',
    });
  });
});

describe('authorize: reasons', () => {
  it('names the environment and the roles', () => {
    expect(authorize('promote', principal(['DEVELOPER']), { environment: production })).toEqual({
      allowed: false,
      rule: 'role',
      reason: 'promote into production needs one of the roles QA, APPROVER',
    });
  });

  it('says when only ADMIN may change a production environment', () => {
    const d = authorize('setSecretValue', principal(['QA']), { environment: production });
    expect(d.allowed).toBe(false);
    if (!d.allowed) expect(d.reason).toBe('setSecretValue in production needs the role ADMIN (a PRODUCTION environment)');
  });

  it('names the type when the slug is unknown, and says an empty list leaves ADMIN', () => {
    const d = authorize('deploy', principal(['DEVELOPER']), { environment: lockedDown });
    expect(d.allowed).toBe(false);
    if (!d.allowed) expect(d.reason).toBe('deploy into a DEVELOPMENT environment is reserved to ADMIN (its policy.deployerRoles is empty)');
  });

  it('names the fixed role', () => {
    const d = authorize('createProject', principal(['DEVELOPER']));
    expect(d.allowed).toBe(false);
    if (!d.allowed) expect(d.reason).toBe('createProject needs the role ADMIN');
  });

  it('names the person for once-per-person', () => {
    const d = authorize('approveDeployment', principal(['APPROVER']), {
      environment: production,
      deployment: { requestedBy: 'bob', alreadyDecidedBy: [SUBJECT] },
    });
    expect(d.allowed).toBe(false);
    if (!d.allowed) expect(d.reason).toContain(SUBJECT);
  });
});

describe('assertAuthorized', () => {
  it('throws FORBIDDEN with the reason', () => {
    let caught: unknown;
    try {
      assertAuthorized('revealSecretValue', principal(['DEVELOPER']));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('FORBIDDEN');
    expect((caught as AppError).extensions.code).toBe('FORBIDDEN');
    expect((caught as AppError).message).toBe('revealSecretValue needs the role ADMIN');
  });

  it('returns quietly when allowed', () => {
    expect(() => assertAuthorized('deploy', principal(['QA']), { environment: production })).not.toThrow();
  });
});

describe('canGrantRoles', () => {
  for (const creatorRole of ROLES) {
    for (const granted of ROLES) {
      const allowed = creatorRole === 'ADMIN' || creatorRole === granted;
      it(`${creatorRole} ${allowed ? 'may' : 'may not'} grant ${granted}`, () => {
        expect(canGrantRoles(principal([creatorRole]), [granted])).toBe(allowed);
      });
    }
  }

  it('needs every role granted', () => {
    expect(canGrantRoles(principal(['DEVELOPER', 'QA']), ['DEVELOPER', 'QA'])).toBe(true);
    expect(canGrantRoles(principal(['DEVELOPER']), ['DEVELOPER', 'QA'])).toBe(false);
    expect(missingGrantRoles(principal(['DEVELOPER']), ['VIEWER', 'DEVELOPER', 'QA'])).toEqual(['VIEWER', 'QA']);
  });

  it('lets ADMIN grant every role at once', () => {
    expect(canGrantRoles(principal(['ADMIN']), [...ROLES])).toBe(true);
  });

  it('lets api-token creators grant what they hold', () => {
    expect(canGrantRoles(principal(['QA'], 'api-token'), ['QA'])).toBe(true);
    expect(canGrantRoles(principal(['QA'], 'api-token'), ['APPROVER'])).toBe(false);
  });

  it('never lets a callback token grant anything', () => {
    expect(canGrantRoles(principal(['ADMIN'], 'callback'), ['VIEWER'])).toBe(false);
  });

  it('assertCanGrantRoles throws FORBIDDEN naming the missing roles', () => {
    let caught: unknown;
    try {
      assertCanGrantRoles(principal(['DEVELOPER']), ['DEVELOPER', 'QA', 'ADMIN']);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('FORBIDDEN');
    expect((caught as AppError).message).toContain('QA, ADMIN');
    expect(() => assertCanGrantRoles(principal(['ADMIN']), ['QA'])).not.toThrow();
  });
});

// ---------------------------------------------------------------- the project dimension (v2)
// Every row, every scenario and role, in an INTERNAL and a PRIVATE project, for each way a
// principal can hold (or not hold) the role there. The roles each way gives are written out
// here from the contract ("global roles + grants to sub + grants to groups; global non-ADMIN
// roles do not reach into a PRIVATE project; a project token acts in its project only"), not
// derived from rolesInProject, which is what is under test.

type Visibility = 'INTERNAL' | 'PRIVATE';
const HERE = { id: 'p-here' };
const ELSEWHERE = 'p-elsewhere';

interface Holder {
  name: string;
  /** The principal and the grants of HERE that exist, for a role. */
  make(role: Role): { principal: Principal; grants: ProjectGrant[] };
  /** The roles the contract gives it in HERE. */
  expected(role: Role, visibility: Visibility): Role[];
}

const grant = (g: Partial<ProjectGrant> & { roles: Role[] }): ProjectGrant => ({ subject: null, group: null, ...g });
const HOLDERS: Holder[] = [
  {
    name: 'a global role, no grant',
    make: (role) => ({ principal: principal([role]), grants: [] }),
    expected: (role, v) => (v === 'INTERNAL' || role === 'ADMIN' ? [role] : []),
  },
  {
    name: 'a grant to its subject, no global role',
    make: (role) => ({ principal: principal([]), grants: [grant({ subject: SUBJECT, roles: [role] })] }),
    expected: (role) => [role],
  },
  {
    name: 'a grant to one of its groups, no global role',
    make: (role) => ({
      principal: { ...principal([], 'oidc'), groups: ['qa-team', 'platform'] },
      grants: [grant({ group: 'platform', roles: [role] })],
    }),
    expected: (role) => [role],
  },
  {
    name: 'global VIEWER and a grant to its subject',
    make: (role) => ({ principal: principal(['VIEWER']), grants: [grant({ subject: SUBJECT, roles: [role] })] }),
    expected: (role, v) => (v === 'INTERNAL' ? [...new Set<Role>(['VIEWER', role])] : [role]),
  },
  {
    name: 'a non-member: grants to another subject and another group only',
    make: (role) => ({
      principal: { ...principal([], 'oidc'), groups: ['qa-team'] },
      grants: [grant({ subject: 'bob', roles: [role] }), grant({ group: 'platform', roles: [role] })],
    }),
    expected: () => [],
  },
  {
    name: 'a token of this project',
    make: (role) => ({ principal: { ...principal([], 'api-token'), boundTo: { [HERE.id]: [role] } }, grants: [] }),
    expected: (role) => [role],
  },
  {
    name: "a token of another project, with a grant here to its subject (grants don't widen it)",
    make: (role) => ({
      principal: { ...principal([], 'api-token'), boundTo: { [ELSEWHERE]: [role] } },
      grants: [grant({ subject: SUBJECT, roles: [role] })],
    }),
    expected: () => [],
  },
];

describe('authorize in a project: INTERNAL/PRIVATE x member/non-member x global/granted', () => {
  for (const row of PERMISSION_TABLE.filter((r) => r.rule.kind !== 'own-callback')) {
    for (const holder of HOLDERS) {
      for (const visibility of ['INTERNAL', 'PRIVATE'] as const) {
        it(`${row.action}: ${holder.name}, ${visibility} project`, () => {
          const wrong: string[] = [];
          for (const role of ROLES) {
            const { principal: p, grants } = holder.make(role);
            const roles = rolesInProject(p, { ...HERE, visibility }, grants);
            const expectedRoles = holder.expected(role, visibility);
            if ([...roles].sort().join() !== [...expectedRoles].sort().join()) {
              wrong.push(`${role}: roles ${roles.join(',') || '-'}, expected ${expectedRoles.join(',') || '-'}`);
            }
            // What the server answers: hidden (NOT_FOUND) iff PRIVATE and no role there.
            const hidden = visibility === 'PRIVATE' && roles.length === 0;
            if (hidden !== (visibility === 'PRIVATE' && expectedRoles.length === 0)) wrong.push(`${role}: hidden ${hidden}`);
            for (const scenario of EXPECTED[row.action]) {
              const allowed = authorize(row.action, inProject(p, roles), scenario.context).allowed;
              const expected = expectedRoles.some((r) => scenario.allowed.includes(r));
              if (allowed !== expected) wrong.push(`${role} ${scenario.name}: allowed ${allowed}, expected ${expected}`);
            }
          }
          expect(wrong).toEqual([]);
        });
      }
    }
  }

  it('keeps the subject for preventSelfApproval and once-per-person in a project', () => {
    const p = principal([]);
    const roles = rolesInProject(p, { ...HERE, visibility: 'PRIVATE' }, [grant({ subject: SUBJECT, roles: ['APPROVER'] })]);
    const actor = inProject(p, roles);
    expect(authorize('approveDeployment', actor, { environment: production, deployment: byBob }).allowed).toBe(true);
    const own = authorize('approveDeployment', actor, { environment: production, deployment: { requestedBy: SUBJECT } });
    expect(own).toMatchObject({ allowed: false, rule: 'self-approval' });
    const twice = authorize('approveDeployment', actor, {
      environment: production,
      deployment: { requestedBy: 'bob', alreadyDecidedBy: [SUBJECT] },
    });
    expect(twice).toMatchObject({ allowed: false, rule: 'once-per-person' });
  });

  it('gives a callback token no role in any project, whatever it carries', () => {
    const cb: Principal = { subject: 'callback:d1', roles: ['ADMIN'], kind: 'callback' };
    expect(rolesInProject(cb, { ...HERE, visibility: 'INTERNAL' }, [grant({ subject: 'callback:d1', roles: ['ADMIN'] })])).toEqual([]);
  });
});

describe('outside any project: global roles only', () => {
  it('gives a project-bound principal no global role, so no createProject nor global token', () => {
    const bound: Principal = { subject: 'token:ci', roles: ['ADMIN'], kind: 'api-token', boundTo: { [HERE.id]: ['ADMIN'] } };
    expect(globalRolesOf(bound)).toEqual([]);
    expect(authorize('createProject', globalActor(bound)).allowed).toBe(false);
    expect(authorize('createApiToken', globalActor(bound)).allowed).toBe(false);
    expect(authorize('createProject', globalActor(principal(['ADMIN']))).allowed).toBe(true);
  });

  it('bounds a project token by the creator roles in that project', () => {
    const creator = inProject(
      principal([]),
      rolesInProject(principal([]), { ...HERE, visibility: 'PRIVATE' }, [grant({ subject: SUBJECT, roles: ['ADMIN'] })]),
    );
    expect(canGrantRoles(creator, ['ADMIN', 'QA'])).toBe(true);
    const dev = inProject(principal(['ADMIN']), ['DEVELOPER']);
    expect(missingGrantRoles(dev, ['DEVELOPER', 'QA'])).toEqual(['QA']);
  });
});
