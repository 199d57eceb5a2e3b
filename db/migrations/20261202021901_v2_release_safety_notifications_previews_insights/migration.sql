CREATE TYPE "delivery_status" AS ENUM('PENDING', 'DELIVERED', 'RETRYING', 'FAILED');--> statement-breakpoint
CREATE TYPE "notification_event" AS ENUM('APPROVAL_REQUESTED', 'DEPLOYMENT_SUCCEEDED', 'DEPLOYMENT_FAILED', 'DEPLOYMENT_REJECTED', 'DEPLOYMENT_EXPIRED', 'DEPLOYMENT_ROLLED_BACK', 'FREEZE_OVERRIDDEN', 'SECRET_ROTATED', 'TEST');--> statement-breakpoint
CREATE TYPE "notification_kind" AS ENUM('WEBHOOK', 'SLACK');--> statement-breakpoint
ALTER TYPE "deployment_event_type" ADD VALUE 'VERIFICATION_STARTED';--> statement-breakpoint
ALTER TYPE "deployment_event_type" ADD VALUE 'VERIFICATION_PASSED';--> statement-breakpoint
ALTER TYPE "deployment_event_type" ADD VALUE 'VERIFICATION_FAILED';--> statement-breakpoint
ALTER TYPE "deployment_event_type" ADD VALUE 'ROLLBACK_STARTED';--> statement-breakpoint
ALTER TYPE "deployment_event_type" ADD VALUE 'FREEZE_OVERRIDDEN';--> statement-breakpoint
ALTER TYPE "deployment_event_type" ADD VALUE 'FROZEN_WAIT';--> statement-breakpoint
CREATE TABLE "release_quarantines" (
	"environment_id" uuid,
	"release_id" uuid,
	"deployment_id" uuid,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "release_quarantines_pkey" PRIMARY KEY("environment_id","release_id")
);
--> statement-breakpoint
CREATE TABLE "preview_policies" (
	"project_id" uuid PRIMARY KEY,
	"enabled" boolean NOT NULL,
	"branch_pattern" text NOT NULL,
	"copy_settings_from" text NOT NULL,
	"ttl_hours" integer NOT NULL,
	"updated_by" text NOT NULL,
	"updated_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "preview_policies_pattern_not_blank" CHECK (length("branch_pattern") >= 1),
	CONSTRAINT "preview_policies_ttl_range" CHECK ("ttl_hours" between 1 and 720)
);
--> statement-breakpoint
CREATE TABLE "notification_channels" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"project_id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" "notification_kind" NOT NULL,
	"url_host" text NOT NULL,
	"url_key_id" text NOT NULL,
	"url_nonce" bytea NOT NULL,
	"url_ciphertext" bytea NOT NULL,
	"events" "notification_event"[] NOT NULL,
	"environment_slugs" text[] DEFAULT '{}'::text[] NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notification_channels_events_nonempty" CHECK (cardinality("events") >= 1)
);
--> statement-breakpoint
CREATE TABLE "notification_deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"channel_id" uuid NOT NULL,
	"project_id" uuid NOT NULL,
	"event" "notification_event" NOT NULL,
	"deployment_id" uuid,
	"facts" jsonb NOT NULL,
	"status" "delivery_status" DEFAULT 'PENDING'::"delivery_status" NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_status_code" integer,
	"last_error" text,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp(3) with time zone,
	"dispatched_at" timestamp(3) with time zone
);
--> statement-breakpoint
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
ALTER TABLE "deployments" ADD COLUMN "verification" jsonb;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "rollback_of_id" uuid;--> statement-breakpoint
ALTER TABLE "environments" ADD COLUMN "auto_deploy_paused" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "environments" ADD COLUMN "preview_branch" text;--> statement-breakpoint
CREATE INDEX "deployment_events_insights_idx" ON "deployment_events" ("project_id","created_at","deployment_id","type","status") WHERE "type" in ('SUCCEEDED', 'FAILED', 'APPROVED', 'REJECTED');--> statement-breakpoint
CREATE UNIQUE INDEX "deployments_rollback_of_unique" ON "deployments" ("rollback_of_id");--> statement-breakpoint
CREATE UNIQUE INDEX "environments_active_preview_branch_unique" ON "environments" ("project_id","preview_branch") WHERE "preview_branch" is not null and "archived_at" is null;--> statement-breakpoint
CREATE INDEX "release_quarantines_release_idx" ON "release_quarantines" ("release_id");--> statement-breakpoint
CREATE INDEX "notification_channels_project_idx" ON "notification_channels" ("project_id");--> statement-breakpoint
CREATE INDEX "notification_deliveries_channel_created_idx" ON "notification_deliveries" ("channel_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "notification_deliveries_undispatched_idx" ON "notification_deliveries" ("created_at") WHERE "dispatched_at" is null and "status" in ('PENDING', 'RETRYING');--> statement-breakpoint
CREATE INDEX "freeze_windows_project_idx" ON "freeze_windows" ("project_id") WHERE "deleted_at" is null;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_rollback_of_id_deployments_id_fkey" FOREIGN KEY ("rollback_of_id") REFERENCES "deployments"("id") ON DELETE SET NULL;--> statement-breakpoint
ALTER TABLE "release_quarantines" ADD CONSTRAINT "release_quarantines_environment_id_environments_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "release_quarantines" ADD CONSTRAINT "release_quarantines_release_id_releases_id_fkey" FOREIGN KEY ("release_id") REFERENCES "releases"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "release_quarantines" ADD CONSTRAINT "release_quarantines_deployment_id_deployments_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "deployments"("id") ON DELETE SET NULL;--> statement-breakpoint
ALTER TABLE "preview_policies" ADD CONSTRAINT "preview_policies_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "notification_channels" ADD CONSTRAINT "notification_channels_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_md7Eei2XqVLr_fkey" FOREIGN KEY ("channel_id") REFERENCES "notification_channels"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "freeze_overrides" ADD CONSTRAINT "freeze_overrides_deployment_id_deployments_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "deployments"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "freeze_overrides" ADD CONSTRAINT "freeze_overrides_window_id_freeze_windows_id_fkey" FOREIGN KEY ("window_id") REFERENCES "freeze_windows"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "freeze_windows" ADD CONSTRAINT "freeze_windows_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;