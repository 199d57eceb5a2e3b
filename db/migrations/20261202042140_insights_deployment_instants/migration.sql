ALTER TABLE "deployments" ADD COLUMN "outcome_at" timestamp(3) with time zone;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "release_created_at" timestamp(3) with time zone;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "approval_requested_at" timestamp(3) with time zone;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "approval_first_decided_at" timestamp(3) with time zone;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "approval_decided_at" timestamp(3) with time zone;--> statement-breakpoint
-- Backfilled from the event log before the indexes are built (db/deployment-instants.ts).
UPDATE "deployments" d SET "outcome_at" = e."created_at", "release_created_at" = r."created_at"
FROM "deployment_events" e, "releases" r
WHERE e."deployment_id" = d."id" AND e."type" IN ('SUCCEEDED', 'FAILED') AND r."id" = d."release_id";--> statement-breakpoint
UPDATE "deployments" d SET "approval_requested_at" = e."created_at"
FROM (SELECT DISTINCT ON ("deployment_id") "deployment_id", "created_at" FROM "deployment_events"
  WHERE "status" = 'PENDING_APPROVAL' ORDER BY "deployment_id", "seq") e
WHERE e."deployment_id" = d."id";--> statement-breakpoint
UPDATE "deployments" d SET "approval_first_decided_at" = e."first", "approval_decided_at" = e."last"
FROM (SELECT "deployment_id", min("created_at") AS "first", max("created_at") AS "last" FROM "deployment_events"
  WHERE "type" IN ('APPROVED', 'REJECTED') AND "status" <> 'PENDING_APPROVAL' GROUP BY "deployment_id") e
WHERE e."deployment_id" = d."id";--> statement-breakpoint
CREATE INDEX "deployments_environment_outcome_idx" ON "deployments" ("environment_id","outcome_at","id","status","kind","release_created_at") WHERE "outcome_at" is not null;--> statement-breakpoint
CREATE INDEX "deployments_environment_decided_idx" ON "deployments" ("environment_id","approval_decided_at","approval_requested_at") WHERE "approval_decided_at" is not null;--> statement-breakpoint
CREATE INDEX "deployments_environment_redecided_idx" ON "deployments" ("environment_id","approval_decided_at") WHERE "approval_first_decided_at" < "approval_decided_at";--> statement-breakpoint
DROP INDEX "deployment_events_insights_idx";
