// Every operation the CLI sends, typed by gql.tada from schema/schema.graphql (cli/graphql.ts).
// test/unit/cli-operations.test.ts validates each of them against the snapshot.
import { graphql } from './graphql.ts';

export const DeploymentFields = graphql(`
  fragment DeploymentFields on Deployment {
    id
    kind
    status
    progress
    requestedBy
    requiredApprovals
    error
    createdAt
    startedAt
    finishedAt
    environment { slug name }
    sourceEnvironment { slug }
    release { id version commitSha branch }
    approvals { approver decision comment createdAt }
    steps { name status progress }
  }
`);

export const EventFields = graphql(`
  fragment EventFields on DeploymentEvent {
    seq
    deploymentId
    type
    status
    step
    progress
    message
    at
  }
`);

export const SettingsFields = graphql(`
  fragment SettingsFields on EnvironmentSettings {
    version
    logLevel
    featureFlags { key enabled }
    rateLimit { enabled requestsPerMinute }
    corsOrigins
    dataPolicy
    performanceMonitoring
    alerting
    backupSchedule
    readReplicas
    runbookUrl
    securityHardening
  }
`);

export const Projects = graphql(`
  query CliProjects($after: String) {
    projects(first: 100, after: $after) {
      edges { node { id slug name createdAt environments { slug } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const Environments = graphql(`
  query CliEnvironments($project: String!) {
    project(slug: $project) {
      id
      slug
      environments {
        id
        slug
        name
        type
        position
        frozen
        promotesFrom { slug }
        policy { trigger requiredApprovals }
        deployTarget { provider }
        currentRelease { version commitSha }
        activeDeployment { id status progress }
        policyReport { passed }
        previewBranch
        expiresAt
      }
    }
  }
`);

export const PreviewPolicy = graphql(`
  query CliPreviewPolicy($project: String!) {
    project(slug: $project) {
      id
      previewPolicy { enabled branchPattern copySettingsFrom ttlHours }
    }
  }
`);

export const SetPreviewPolicy = graphql(`
  mutation CliSetPreviewPolicy($input: SetPreviewPolicyInput!) {
    setPreviewPolicy(input: $input) {
      slug
      previewPolicy { enabled branchPattern copySettingsFrom ttlHours }
    }
  }
`);

export const EnvironmentId = graphql(`
  query CliEnvironmentId($project: String!, $env: String!) {
    project(slug: $project) {
      id
      environment(slug: $env) { id slug }
    }
  }
`);

export const Members = graphql(`
  query CliMembers($project: String!) {
    project(slug: $project) { slug visibility members { subject group roles grantedBy createdAt } }
  }
`);

export const GrantProjectRoles = graphql(`
  mutation CliGrantProjectRoles($input: GrantProjectRolesInput!) {
    grantProjectRoles(input: $input) { subject group roles grantedBy createdAt }
  }
`);

export const RevokeProjectRoles = graphql(`
  mutation CliRevokeProjectRoles($input: RevokeProjectRolesInput!) {
    revokeProjectRoles(input: $input)
  }
`);

export const SetProjectVisibility = graphql(`
  mutation CliSetProjectVisibility($input: SetProjectVisibilityInput!) {
    setProjectVisibility(input: $input) { slug visibility }
  }
`);

export const ProjectId = graphql(`
  query CliProjectId($project: String!) {
    project(slug: $project) { id slug }
  }
`);

export const Deployments = graphql(
  `
  query CliDeployments($project: String!, $env: String, $status: [DeploymentStatus!], $first: Int!) {
    project(slug: $project) {
      id
      deployments(first: $first, environment: $env, status: $status) {
        edges { node { ...DeploymentFields } }
      }
    }
  }
`,
  [DeploymentFields],
);

export const Releases = graphql(`
  query CliReleases($project: String!, $after: String) {
    project(slug: $project) {
      releases(first: 100, after: $after) {
        edges { node { id version commitSha branch } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);

export const Settings = graphql(
  `
  query CliSettings($project: String!, $env: String!) {
    project(slug: $project) {
      environment(slug: $env) {
        id
        slug
        settings { ...SettingsFields }
      }
    }
  }
`,
  [SettingsFields],
);

export const UpdateSettings = graphql(
  `
  mutation CliUpdateSettings($input: UpdateEnvironmentSettingsInput!) {
    updateEnvironmentSettings(input: $input) {
      id
      slug
      settings { ...SettingsFields }
    }
  }
`,
  [SettingsFields],
);

export const Compare = graphql(`
  query CliCompare($project: String!, $base: String!, $target: String!) {
    project(slug: $project) {
      compareEnvironments(base: $base, target: $target) {
        base { slug }
        target { slug }
        identical
        differences { path base target }
      }
    }
  }
`);

export const Policy = graphql(`
  query CliPolicy($project: String!, $env: String!) {
    project(slug: $project) {
      environment(slug: $env) {
        slug
        policyReport {
          passed
          checks { id title passed severity detail }
        }
      }
    }
  }
`);

export const Insights = graphql(`
  query CliInsights($project: String!, $env: String!, $from: DateTime!, $to: DateTime!) {
    project(slug: $project) {
      insights(environment: $env, from: $from, to: $to) {
        environment
        from
        to
        deployments
        successes
        failures
        rollbacks
        deploymentsPerDay
        changeFailureRate
        leadTimeSeconds { p50 p90 }
        timeToRestoreSeconds { p50 p90 }
        approvalWaitSeconds { p50 p90 }
        series { day deployments failures }
      }
    }
  }
`);

export const RecordPush = graphql(
  `
  mutation CliRecordPush($input: RecordPushInput!) {
    recordPush(input: $input) {
      release { id version commitSha branch message author }
      deployments { ...DeploymentFields }
    }
  }
`,
  [DeploymentFields],
);

export const Deploy = graphql(
  `
  mutation CliDeploy($input: DeployInput!) {
    deploy(input: $input) { ...DeploymentFields }
  }
`,
  [DeploymentFields],
);

export const Promote = graphql(
  `
  mutation CliPromote($input: PromoteInput!) {
    promote(input: $input) { ...DeploymentFields }
  }
`,
  [DeploymentFields],
);

export const Rollback = graphql(
  `
  mutation CliRollback($input: RollbackInput!) {
    rollback(input: $input) { ...DeploymentFields }
  }
`,
  [DeploymentFields],
);

export const Approve = graphql(
  `
  mutation CliApprove($input: DecisionInput!) {
    approveDeployment(input: $input) { ...DeploymentFields }
  }
`,
  [DeploymentFields],
);

export const Reject = graphql(
  `
  mutation CliReject($input: DecisionInput!) {
    rejectDeployment(input: $input) { ...DeploymentFields }
  }
`,
  [DeploymentFields],
);

export const Cancel = graphql(
  `
  mutation CliCancel($id: ID!) {
    cancelDeployment(id: $id) { ...DeploymentFields }
  }
`,
  [DeploymentFields],
);

export const Deployment = graphql(
  `
  query CliDeployment($id: ID!) {
    deployment(id: $id) {
      ...DeploymentFields
      project { slug }
    }
  }
`,
  [DeploymentFields],
);

export const DeploymentEvents = graphql(
  `
  subscription CliDeploymentEvents($id: ID!, $afterSeq: Int) {
    deploymentEvents(deploymentId: $id, afterSeq: $afterSeq) { ...EventFields }
  }
`,
  [EventFields],
);

export const NotificationChannels = graphql(`
  query CliNotificationChannels($project: String!, $first: Int) {
    project(slug: $project) {
      id
      notificationChannels {
        id name kind urlHost events environmentSlugs enabled createdBy createdAt
        deliveries(first: $first) { id event status attempts lastStatusCode lastError createdAt deliveredAt }
      }
    }
  }
`);

export const CreateNotificationChannel = graphql(`
  mutation CliCreateNotificationChannel($input: CreateNotificationChannelInput!) {
    createNotificationChannel(input: $input) { id name kind urlHost events environmentSlugs }
  }
`);

export const TestNotificationChannel = graphql(`
  mutation CliTestNotificationChannel($id: ID!) {
    testNotificationChannel(id: $id) { id event status attempts createdAt }
  }
`);

export const DeleteNotificationChannel = graphql(`
  mutation CliDeleteNotificationChannel($id: ID!) { deleteNotificationChannel(id: $id) }
`);

/** Every document above, by name, for the schema validation test. */
export const ALL_OPERATIONS = {
  Projects,
  Environments,
  EnvironmentId,
  ProjectId,
  PreviewPolicy,
  SetPreviewPolicy,
  Deployments,
  Releases,
  Settings,
  UpdateSettings,
  Compare,
  Policy,
  Insights,
  RecordPush,
  Deploy,
  Promote,
  Rollback,
  Approve,
  Reject,
  Cancel,
  Deployment,
  DeploymentEvents,
  NotificationChannels,
  CreateNotificationChannel,
  TestNotificationChannel,
  DeleteNotificationChannel,
};

// ---- freeze windows (v2) -----------------------------------------------------------------------

export const FreezeWindowFields = graphql(`
  fragment FreezeWindowFields on FreezeWindow {
    id
    name
    reason
    environmentSlugs
    environmentTypes
    startsAt
    endsAt
    recurrence
    durationMinutes
    timeZone
    allowRollback
    createdBy
    nextOccurrence { startsAt endsAt }
  }
`);

export const FreezeWindows = graphql(
  `
  query CliFreezeWindows($project: String!) {
    project(slug: $project) {
      id
      freezeWindows { ...FreezeWindowFields }
    }
  }
`,
  [FreezeWindowFields],
);

export const CreateFreezeWindow = graphql(
  `
  mutation CliCreateFreezeWindow($input: CreateFreezeWindowInput!) {
    createFreezeWindow(input: $input) { ...FreezeWindowFields }
  }
`,
  [FreezeWindowFields],
);

export const DeleteFreezeWindow = graphql(`
  mutation CliDeleteFreezeWindow($id: ID!) {
    deleteFreezeWindow(id: $id)
  }
`);
