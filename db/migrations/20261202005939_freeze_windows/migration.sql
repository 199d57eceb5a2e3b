ALTER TYPE "deployment_event_type" ADD VALUE 'FREEZE_OVERRIDDEN';--> statement-breakpoint
ALTER TYPE "deployment_event_type" ADD VALUE 'FROZEN_WAIT';--> statement-breakpoint
CREATE TABLE "freeze_overrides" (
	"deployment_id" uuid PRIMARY KEY,
	"window_id" uuid NOT NULL,
	"reason" text NOT NULL,
	"by" text NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "freeze_windows" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"project_id" uuid NOT NULL,
	"name" text NOT NULL,
	"reason" text NOT NULL,
	"environment_slugs" text[] DEFAULT '{}'::text[] NOT NULL,
	"environment_types" text[] DEFAULT '{}'::text[] NOT NULL,
	"starts_at" timestamp(3) with time zone NOT NULL,
	"ends_at" timestamp(3) with time zone,
	"recurrence" text,
	"duration_minutes" integer,
	"time_zone" text DEFAULT 'UTC' NOT NULL,
	"allow_rollback" boolean DEFAULT true NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp(3) with time zone,
	CONSTRAINT "freeze_windows_one_kind" CHECK (("ends_at" is not null and "recurrence" is null and "duration_minutes" is null) or ("ends_at" is null and "recurrence" is not null and "duration_minutes" is not null)),
	CONSTRAINT "freeze_windows_ends_after_start" CHECK ("ends_at" is null or "ends_at" > "starts_at"),
	CONSTRAINT "freeze_windows_duration" CHECK ("duration_minutes" is null or "duration_minutes" between 1 and 44640),
	CONSTRAINT "freeze_windows_types_valid" CHECK ("environment_types" <@ array['DEVELOPMENT','STAGING','PRODUCTION','CUSTOM']::text[])
);
--> statement-breakpoint
CREATE INDEX "freeze_windows_project_idx" ON "freeze_windows" ("project_id") WHERE "deleted_at" is null;--> statement-breakpoint
ALTER TABLE "freeze_overrides" ADD CONSTRAINT "freeze_overrides_deployment_id_deployments_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "deployments"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "freeze_overrides" ADD CONSTRAINT "freeze_overrides_window_id_freeze_windows_id_fkey" FOREIGN KEY ("window_id") REFERENCES "freeze_windows"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "freeze_windows" ADD CONSTRAINT "freeze_windows_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;