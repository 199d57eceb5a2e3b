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
        id slug name type position frozen
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
