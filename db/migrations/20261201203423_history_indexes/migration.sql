DROP INDEX "deployments_project_created_idx";--> statement-breakpoint
CREATE INDEX "deployments_project_created_idx" ON "deployments" ("project_id","created_at","id");--> statement-breakpoint
DROP INDEX "deployments_environment_created_idx";--> statement-breakpoint
CREATE INDEX "deployments_environment_created_idx" ON "deployments" ("environment_id","created_at","id");--> statement-breakpoint
DROP INDEX "releases_project_created_idx";--> statement-breakpoint
CREATE INDEX "releases_project_created_idx" ON "releases" ("project_id","created_at","id");--> statement-breakpoint
CREATE INDEX "deployment_events_project_id_idx" ON "deployment_events" ("project_id","id");--> statement-breakpoint
CREATE INDEX "deployments_environment_succeeded_idx" ON "deployments" ("environment_id","finished_at","created_at") WHERE "status" = 'SUCCEEDED';--> statement-breakpoint
CREATE INDEX "deployments_environment_unfinished_idx" ON "deployments" ("environment_id","created_at","id") WHERE "status" not in ('SUCCEEDED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED');--> statement-breakpoint
CREATE INDEX "deployments_release_idx" ON "deployments" ("release_id");