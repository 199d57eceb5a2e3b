// The instants Project.insights keeps on each deployment's row (db/schema/deployments.ts), derived
// from the event log: the backfill of the migration insights_deployment_instants, word for word
// (test/integration/deployment-instants.test.ts holds them to it and to appendDeploymentEvent,
// which writes them as each event is appended). Histories written straight into the database
// (test/support/insights-history.ts, the insights test) run these too, so what is measured and
// checked is what the migration and the API produce.
export const DEPLOYMENT_INSTANTS_BACKFILL = [
  // At most one outcome per deployment: SUCCEEDED and FAILED are both terminal.
  `UPDATE "deployments" d SET "outcome_at" = e."created_at", "release_created_at" = r."created_at"
FROM "deployment_events" e, "releases" r
WHERE e."deployment_id" = d."id" AND e."type" IN ('SUCCEEDED', 'FAILED') AND r."id" = d."release_id";`,
  `UPDATE "deployments" d SET "approval_requested_at" = e."created_at"
FROM (SELECT DISTINCT ON ("deployment_id") "deployment_id", "created_at" FROM "deployment_events"
  WHERE "status" = 'PENDING_APPROVAL' ORDER BY "deployment_id", "seq") e
WHERE e."deployment_id" = d."id";`,
  `UPDATE "deployments" d SET "approval_first_decided_at" = e."first", "approval_decided_at" = e."last"
FROM (SELECT "deployment_id", min("created_at") AS "first", max("created_at") AS "last" FROM "deployment_events"
  WHERE "type" IN ('APPROVED', 'REJECTED') AND "status" <> 'PENDING_APPROVAL' GROUP BY "deployment_id") e
WHERE e."deployment_id" = d."id";`,
] as const;
