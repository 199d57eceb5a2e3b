CREATE TYPE "delivery_status" AS ENUM('PENDING', 'DELIVERED', 'RETRYING', 'FAILED');--> statement-breakpoint
CREATE TYPE "notification_event" AS ENUM('APPROVAL_REQUESTED', 'DEPLOYMENT_SUCCEEDED', 'DEPLOYMENT_FAILED', 'DEPLOYMENT_REJECTED', 'DEPLOYMENT_EXPIRED', 'DEPLOYMENT_ROLLED_BACK', 'FREEZE_OVERRIDDEN', 'SECRET_ROTATED', 'TEST');--> statement-breakpoint
CREATE TYPE "notification_kind" AS ENUM('WEBHOOK', 'SLACK');--> statement-breakpoint
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
CREATE INDEX "notification_channels_project_idx" ON "notification_channels" ("project_id");--> statement-breakpoint
CREATE INDEX "notification_deliveries_channel_created_idx" ON "notification_deliveries" ("channel_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "notification_deliveries_undispatched_idx" ON "notification_deliveries" ("created_at") WHERE "dispatched_at" is null and "status" in ('PENDING', 'RETRYING');--> statement-breakpoint
ALTER TABLE "notification_channels" ADD CONSTRAINT "notification_channels_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_md7Eei2XqVLr_fkey" FOREIGN KEY ("channel_id") REFERENCES "notification_channels"("id") ON DELETE CASCADE;