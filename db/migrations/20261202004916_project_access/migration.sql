CREATE TYPE "project_visibility" AS ENUM('INTERNAL', 'PRIVATE');--> statement-breakpoint
CREATE TABLE "project_members" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"project_id" uuid NOT NULL,
	"subject" text,
	"group" text,
	"roles" text[] NOT NULL,
	"granted_by" text NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "project_members_one_grantee" CHECK (("subject" is null) <> ("group" is null)),
	CONSTRAINT "project_members_roles_valid" CHECK ("roles" <@ array['VIEWER','DEVELOPER','QA','APPROVER','ADMIN']::text[] and cardinality("roles") >= 1)
);
--> statement-breakpoint
CREATE TABLE "trust_policies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"project_id" uuid NOT NULL,
	"issuer" text NOT NULL,
	"audience" text NOT NULL,
	"subject_pattern" text NOT NULL,
	"roles" text[] NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "trust_policies_roles_valid" CHECK ("roles" <@ array['VIEWER','DEVELOPER','QA','APPROVER','ADMIN']::text[] and cardinality("roles") >= 1)
);
--> statement-breakpoint
ALTER TABLE "api_tokens" ADD COLUMN "project_id" uuid;--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "visibility" "project_visibility" DEFAULT 'INTERNAL'::"project_visibility" NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "project_members_subject_unique" ON "project_members" ("project_id","subject") WHERE "subject" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "project_members_group_unique" ON "project_members" ("project_id","group") WHERE "group" is not null;--> statement-breakpoint
CREATE INDEX "trust_policies_issuer_audience" ON "trust_policies" ("issuer","audience");--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "project_members" ADD CONSTRAINT "project_members_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "trust_policies" ADD CONSTRAINT "trust_policies_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;