// Reads of a project's configuration as plain data, for policy reports, comparisons and the
// snapshots deployments pin. One statement, whatever the number of environments.
import { policyReport } from '../domain/policy.ts';
import type { SnapshotContent } from '../domain/snapshot.ts';
import type { DatabaseValueSnapshot, EnvironmentSettings, EnvironmentType } from '../domain/types.ts';
import type { Queryable } from './client.ts';
import type { EnvironmentRow, FreezeWindowRow } from './schema/index.ts';

export interface EnvironmentConfiguration {
  environment: EnvironmentRow;
  settings: EnvironmentSettings;
  settingsVersion: number;
  /** Connection name → this environment's value. */
  databases: Record<string, DatabaseValueSnapshot>;
  /** Secret name → this environment's value metadata (never the value). */
  secrets: Record<string, { isSet: boolean; versionId: string | null }>;
}

export interface ProjectConfiguration {
  /** Not archived, in pipeline order (`of` also knows archived ones). */
  environments: EnvironmentRow[];
  of(environmentId: string): EnvironmentConfiguration;
  /** The project's first PRODUCTION environment (the one staging mirrors). */
  production(): EnvironmentRow | undefined;
  /** Every feature-flag key known in any environment of the project. */
  flagKeys(): string[];
  /** The project's freeze windows that are not deleted (v2; Environment.activeFreeze reads them from here). */
  freezeWindows: FreezeWindowRow[];
}

export async function loadProjectConfiguration(db: Queryable, projectId: string): Promise<ProjectConfiguration> {
  // One relational statement (lateral JSON aggregates) instead of one per table: the pipeline
  // page asks a policy report of every environment, and each statement is a round trip.
  const project = await db.query.projects.findFirst({
    where: { id: projectId },
    columns: { id: true },
    with: {
      environments: { orderBy: { position: 'asc', createdAt: 'asc' } },
      databaseConnections: {
        columns: { name: true },
        with: { values: { with: { passwordSecret: { columns: { name: true } } } } },
      },
      secrets: {
        orderBy: { name: 'asc' },
        with: { values: { columns: { secretId: true, environmentId: true, versionId: true } } },
      },
      // In the same statement: a pipeline page asks each environment's active freeze too.
      freezeWindows: { where: { deletedAt: { isNull: true } } },
    },
  });
  const envRows = project?.environments ?? [];
  const dbValues = (project?.databaseConnections ?? []).flatMap((c) =>
    c.values.map(({ passwordSecret, ...value }) => ({ value, connectionName: c.name, secretName: passwordSecret?.name ?? null })),
  );
  const secretRows = project?.secrets ?? [];
  const valueRows = secretRows.flatMap((s) => s.values);

  const active = envRows.filter((e) => e.archivedAt === null);
  return {
    environments: active,
    freezeWindows: project?.freezeWindows ?? [],
    production: () => active.find((e) => e.type === ('PRODUCTION' satisfies EnvironmentType)),
    flagKeys: () => [...new Set(active.flatMap((e) => e.settings.featureFlags.map((f) => f.key)))].sort(),
    of(environmentId) {
      const environment = envRows.find((e) => e.id === environmentId);
      if (!environment) throw new Error(`environment ${environmentId} is not an environment of the project`);
      const databases: EnvironmentConfiguration['databases'] = {};
      for (const row of dbValues.filter((r) => r.value.environmentId === environmentId)) {
        databases[row.connectionName] = {
          host: row.value.host,
          port: row.value.port,
          database: row.value.database,
          user: row.value.user,
          ssl: row.value.ssl,
          poolSize: row.value.poolSize,
          passwordSecret: row.secretName ?? null,
        };
      }
      const secretsOut: EnvironmentConfiguration['secrets'] = {};
      for (const secret of secretRows) {
        const value = valueRows.find((v) => v.secretId === secret.id && v.environmentId === environmentId);
        secretsOut[secret.name] = { isSet: value !== undefined, versionId: value?.versionId ?? null };
      }
      return {
        environment,
        settings: environment.settings,
        settingsVersion: environment.settingsVersion,
        databases,
        secrets: secretsOut,
      };
    },
  };
}

/** The policy report of one environment (used by the field and by the deployment gate). */
export function policyReportFor(config: ProjectConfiguration, environmentId: string) {
  const own = config.of(environmentId);
  return policyReport({
    environment: { type: own.environment.type, settings: own.settings },
    productionSettings: config.production()?.settings ?? null,
    projectFlagKeys: config.flagKeys(),
    databaseValues: Object.entries(own.databases).map(([connectionName, v]) => ({ connectionName, ssl: v.ssl })),
    secrets: Object.entries(own.secrets).map(([name, s]) => ({ name, isSet: s.isSet })),
  });
}

/** What a deployment into `environmentId` pins now (README: Deployments, snapshot). */
export function snapshotContent(config: ProjectConfiguration, environmentId: string): SnapshotContent {
  const own = config.of(environmentId);
  return {
    settingsVersion: own.settingsVersion,
    settings: own.settings,
    databases: own.databases,
    secretVersions: Object.fromEntries(Object.entries(own.secrets).map(([name, s]) => [name, s.versionId])),
  };
}
