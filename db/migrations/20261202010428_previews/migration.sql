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
ALTER TABLE "environments" ADD COLUMN "preview_branch" text;--> statement-breakpoint
CREATE UNIQUE INDEX "environments_active_preview_branch_unique" ON "environments" ("project_id","preview_branch") WHERE "preview_branch" is not null and "archived_at" is null;--> statement-breakpoint
ALTER TABLE "preview_policies" ADD CONSTRAINT "preview_policies_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;