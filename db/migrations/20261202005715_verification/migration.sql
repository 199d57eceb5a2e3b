ALTER TYPE "deployment_event_type" ADD VALUE 'VERIFICATION_STARTED';--> statement-breakpoint
ALTER TYPE "deployment_event_type" ADD VALUE 'VERIFICATION_PASSED';--> statement-breakpoint
ALTER TYPE "deployment_event_type" ADD VALUE 'VERIFICATION_FAILED';--> statement-breakpoint
ALTER TYPE "deployment_event_type" ADD VALUE 'ROLLBACK_STARTED';--> statement-breakpoint
CREATE TABLE "release_quarantines" (
	"environment_id" uuid,
	"release_id" uuid,
	"deployment_id" uuid,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "release_quarantines_pkey" PRIMARY KEY("environment_id","release_id")
);
--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "verification" jsonb;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "rollback_of_id" uuid;--> statement-breakpoint
ALTER TABLE "environments" ADD COLUMN "auto_deploy_paused" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "deployments_rollback_of_unique" ON "deployments" ("rollback_of_id");--> statement-breakpoint
CREATE INDEX "release_quarantines_release_idx" ON "release_quarantines" ("release_id");--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_rollback_of_id_deployments_id_fkey" FOREIGN KEY ("rollback_of_id") REFERENCES "deployments"("id") ON DELETE SET NULL;--> statement-breakpoint
ALTER TABLE "release_quarantines" ADD CONSTRAINT "release_quarantines_environment_id_environments_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "release_quarantines" ADD CONSTRAINT "release_quarantines_release_id_releases_id_fkey" FOREIGN KEY ("release_id") REFERENCES "releases"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "release_quarantines" ADD CONSTRAINT "release_quarantines_deployment_id_deployments_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "deployments"("id") ON DELETE SET NULL;