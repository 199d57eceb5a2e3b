// Every GraphQL operation the console sends. Queries and mutations go over HTTP (POST /graphql);
// the two subscriptions go over the tab's one graphql-ws connection.
import { graphql } from './graphql.ts';

export const VIEWER = graphql(`
  query Viewer {
    viewer { subject roles }
  }
`);

export const PROJECTS = graphql(`
  query Projects {
    projects(first: 100) {
      edges { node { id slug name environments { slug name type } } }
    }
  }
`);

export const CREATE_PROJECT = graphql(`
  mutation CreateProject($input: CreateProjectInput!) {
    createProject(input: $input) { id slug name }
  }
`);

export const DEPLOYMENT_CARD = graphql(`
  fragment DeploymentCard on Deployment {
    id status kind progress requestedBy requiredApprovals createdAt finishedAt error
    release { id version commitSha }
    approvals { approver decision }
    steps { name status progress }
  }
`);

export const PIPELINE = graphql(
  `
  query Pipeline($slug: String!) {
    project(slug: $slug) {
      id slug name
      environments {
        id slug name type position frozen autoDeployPaused previewBranch expiresAt
        quarantinedReleases { id version }
        promotesFrom { slug name }
        policy { trigger branchPattern requiredApprovals approverRoles deployerRoles freezeOverrideRoles }
        activeFreeze { id name reason nextOccurrence { startsAt endsAt } }
        currentRelease { id version commitSha }
        policyReport { passed checks { id passed severity } }
        activeDeployment { ...DeploymentCard }
        deployments(first: 10) { edges { node { ...DeploymentCard } } }
      }
      deployments(first: 8) {
        edges { node { id status kind createdAt requestedBy environment { name } release { version commitSha } } }
      }
      freezeWindows { id name reason environmentSlugs environmentTypes nextOccurrence { startsAt endsAt } }
    }
  }
`,
  [DEPLOYMENT_CARD],
);

export const RECORD_PUSH = graphql(`
  mutation RecordPush($input: RecordPushInput!) {
    recordPush(input: $input) { release { version } deployments { id status environment { name } } }
  }
`);

export const PROMOTE = graphql(`
  mutation Promote($input: PromoteInput!) {
    promote(input: $input) { id status release { version } }
  }
`);

export const ROLLBACK = graphql(`
  mutation Rollback($input: RollbackInput!) {
    rollback(input: $input) { id status release { version } }
  }
`);

export const APPROVE = graphql(`
  mutation Approve($input: DecisionInput!) {
    approveDeployment(input: $input) { id status release { version } }
  }
`);

export const REJECT = graphql(`
  mutation Reject($input: DecisionInput!) {
    rejectDeployment(input: $input) { id status release { version } }
  }
`);

export const CANCEL = graphql(`
  mutation Cancel($id: ID!) {
    cancelDeployment(id: $id) { id status release { version } }
  }
`);

export const RELEASE_QUARANTINE = graphql(`
  mutation ReleaseQuarantine($input: ReleaseQuarantineInput!) {
    releaseQuarantine(input: $input) { id quarantinedReleases { id version } }
  }
`);

export const RESUME_AUTO_DEPLOY = graphql(`
  mutation ResumeAutoDeploy($environmentId: ID!) {
    resumeAutoDeploy(environmentId: $environmentId) { id autoDeployPaused }
  }
`);

export const EVENT_FIELDS = graphql(`
  fragment EventFields on DeploymentEvent { seq deploymentId type status step progress message at }
`);

export const DEPLOYMENT = graphql(
  `
  query Deployment($id: ID!, $afterSeq: Int) {
    deployment(id: $id) {
      id status kind progress requestedBy requiredApprovals error workflowId createdAt startedAt finishedAt
      project { slug name }
      environment { id slug name type policy { approverRoles deployerRoles preventSelfApproval } }
      sourceEnvironment { slug name }
      release { version commitSha branch message author }
      approvals { approver decision comment createdAt }
      steps { name status progress startedAt finishedAt }
      snapshot { digest settingsVersion takenAt }
      verification {
        status probes lastStatusCode lastError finishedAt
        config { url expectStatus intervalSeconds successThreshold failureThreshold timeoutSeconds }
      }
      rolledBackBy { id status release { version } }
      rollbackOf { id status release { version } }
      events(afterSeq: $afterSeq) { ...EventFields }
    }
  }
`,
  [EVENT_FIELDS],
);

export const DEPLOYMENT_EVENTS = graphql(
  `
  subscription DeploymentEvents($id: ID!, $afterSeq: Int) {
    deploymentEvents(deploymentId: $id, afterSeq: $afterSeq) { ...EventFields }
  }
`,
  [EVENT_FIELDS],
);

export const PROJECT_EVENTS = graphql(
  `
  subscription ProjectEvents($slug: String!) {
    projectEvents(projectSlug: $slug) { ...EventFields }
  }
`,
  [EVENT_FIELDS],
);

export const PROJECT_ENVIRONMENTS = graphql(`
  query ProjectEnvironments($slug: String!) {
    project(slug: $slug) { slug name environments { slug name position promotesFrom { slug } } }
  }
`);

export const COMPARE = graphql(`
  query Compare($slug: String!, $base: String!, $target: String!) {
    project(slug: $slug) {
      compareEnvironments(base: $base, target: $target) {
        identical
        base { name }
        target { name }
        differences { path base target }
      }
    }
  }
`);

export const INSIGHTS = graphql(`
  query Insights($slug: String!, $env: String!, $from: DateTime!, $to: DateTime!) {
    project(slug: $slug) {
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

export const POLICY = graphql(`
  query Policy($slug: String!, $env: String!) {
    project(slug: $slug) {
      slug name
      environment(slug: $env) {
        slug name type
        policyReport { passed checks { id title passed severity detail } }
      }
    }
  }
`);

// ---- notifications (the project's settings page) ----------------------------------------------

export const NOTIFICATION_CHANNELS = graphql(`
  query NotificationChannels($slug: String!) {
    project(slug: $slug) {
      id slug name
      environments { slug }
      notificationChannels {
        id name kind urlHost events environmentSlugs enabled createdBy createdAt
        deliveries(first: 5) { id event status attempts lastStatusCode lastError createdAt deliveredAt }
      }
    }
  }
`);

export const CREATE_NOTIFICATION_CHANNEL = graphql(`
  mutation CreateNotificationChannel($input: CreateNotificationChannelInput!) {
    createNotificationChannel(input: $input) { id name urlHost }
  }
`);

export const TEST_NOTIFICATION_CHANNEL = graphql(`
  mutation TestNotificationChannel($id: ID!) {
    testNotificationChannel(id: $id) { id status }
  }
`);

export const DELETE_NOTIFICATION_CHANNEL = graphql(`
  mutation DeleteNotificationChannel($id: ID!) { deleteNotificationChannel(id: $id) }
`);
