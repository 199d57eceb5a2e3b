CREATE TYPE "approval_decision" AS ENUM('APPROVE', 'REJECT');--> statement-breakpoint
CREATE TYPE "deployment_event_type" AS ENUM('CREATED', 'APPROVAL_REQUESTED', 'APPROVED', 'APPROVALS_INVALIDATED', 'REJECTED', 'EXPIRED', 'WAITING', 'STARTED', 'STEP_STARTED', 'STEP_PROGRESS', 'STEP_SUCCEEDED', 'STEP_FAILED', 'LOG', 'SUCCEEDED', 'FAILED', 'CANCELLED');--> statement-breakpoint
CREATE TYPE "deployment_kind" AS ENUM('PUSH', 'PROMOTION', 'ROLLBACK', 'MANUAL');--> statement-breakpoint
CREATE TYPE "deployment_status" AS ENUM('QUEUED', 'PENDING_APPROVAL', 'WAITING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED');--> statement-breakpoint
CREATE TYPE "database_type" AS ENUM('POSTGRES');--> statement-breakpoint
CREATE TYPE "environment_purpose" AS ENUM('FEATURE_BRANCH', 'CLIENT_DEMO', 'LOAD_TESTING', 'SECURITY_AUDIT', 'REGIONAL', 'OTHER');--> statement-breakpoint
CREATE TYPE "environment_type" AS ENUM('DEVELOPMENT', 'STAGING', 'PRODUCTION', 'CUSTOM');--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"name" text NOT NULL,
	"roles" text[] NOT NULL,
	"token_hash" text NOT NULL CONSTRAINT "api_tokens_hash_unique" UNIQUE,
	"created_by" text NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp(3) with time zone,
	"revoked_at" timestamp(3) with time zone,
	CONSTRAINT "api_tokens_roles_valid" CHECK ("roles" <@ array['VIEWER','DEVELOPER','QA','APPROVER','ADMIN']::text[] and cardinality("roles") >= 1),
	CONSTRAINT "api_tokens_name_not_blank" CHECK (length(btrim("name")) between 1 and 100)
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"project_id" uuid,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target_id" text,
	"detail" jsonb,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "approvals" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"deployment_id" uuid NOT NULL,
	"approver" text NOT NULL,
	"decision" "approval_decision" NOT NULL,
	"comment" text,
	"invalidated_at" timestamp(3) with time zone,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "deployment_events" (
	"id" bigserial PRIMARY KEY,
	"deployment_id" uuid NOT NULL,
	"project_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"type" "deployment_event_type" NOT NULL,
	"status" "deployment_status" NOT NULL,
	"step" text,
	"progress" double precision,
	"message" text,
	"idempotency_key" text,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deployment_events_seq_unique" UNIQUE("deployment_id","seq"),
	CONSTRAINT "deployment_events_idempotency_unique" UNIQUE("deployment_id","idempotency_key"),
	CONSTRAINT "deployment_events_seq_positive" CHECK ("seq" >= 1)
);
--> statement-breakpoint
CREATE TABLE "deployments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"project_id" uuid NOT NULL,
	"environment_id" uuid NOT NULL,
	"release_id" uuid NOT NULL,
	"source_environment_id" uuid,
	"kind" "deployment_kind" NOT NULL,
	"status" "deployment_status" DEFAULT 'QUEUED'::"deployment_status" NOT NULL,
	"requested_by" text NOT NULL,
	"required_approvals" integer DEFAULT 0 NOT NULL,
	"steps" jsonb DEFAULT '[]' NOT NULL,
	"progress" double precision DEFAULT 0 NOT NULL,
	"error" text,
	"snapshot" jsonb NOT NULL,
	"workflow_id" text NOT NULL CONSTRAINT "deployments_workflow_id_unique" UNIQUE,
	"callback_token_hash" text,
	"last_seq" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp(3) with time zone,
	"finished_at" timestamp(3) with time zone,
	CONSTRAINT "deployments_progress_range" CHECK ("progress" >= 0 and "progress" <= 1),
	CONSTRAINT "deployments_required_approvals_range" CHECK ("required_approvals" >= 0)
);
--> statement-breakpoint
CREATE TABLE "releases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"project_id" uuid NOT NULL,
	"version" text NOT NULL,
	"commit_sha" text NOT NULL,
	"branch" text NOT NULL,
	"message" text,
	"author" text,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "releases_project_commit_unique" UNIQUE("project_id","commit_sha"),
	CONSTRAINT "releases_commit_sha_format" CHECK ("commit_sha" ~ '^[0-9a-f]{7,40}$')
);
--> statement-breakpoint
CREATE TABLE "database_connection_values" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"connection_id" uuid NOT NULL,
	"environment_id" uuid NOT NULL,
	"host" text NOT NULL,
	"port" integer DEFAULT 5432 NOT NULL,
	"database" text NOT NULL,
	"user" text,
	"ssl" boolean DEFAULT true NOT NULL,
	"pool_size" integer DEFAULT 10 NOT NULL,
	"password_secret_id" uuid,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "database_connection_values_conn_env_unique" UNIQUE("connection_id","environment_id"),
	CONSTRAINT "database_connection_values_port_range" CHECK ("port" between 1 and 65535),
	CONSTRAINT "database_connection_values_pool_size_range" CHECK ("pool_size" between 1 and 1000),
	CONSTRAINT "database_connection_values_host_not_blank" CHECK (length(btrim("host")) between 1 and 253),
	CONSTRAINT "database_connection_values_database_not_blank" CHECK (length(btrim("database")) between 1 and 63)
);
--> statement-breakpoint
CREATE TABLE "database_connections" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"project_id" uuid NOT NULL,
	"name" text NOT NULL,
	"type" "database_type" DEFAULT 'POSTGRES'::"database_type" NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "database_connections_project_name_unique" UNIQUE("project_id","name"),
	CONSTRAINT "database_connections_name_not_blank" CHECK (length(btrim("name")) between 1 and 100)
);
--> statement-breakpoint
CREATE TABLE "environment_settings_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"environment_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"settings" jsonb NOT NULL,
	"changed_by" text NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "environment_settings_versions_env_version_unique" UNIQUE("environment_id","version"),
	CONSTRAINT "environment_settings_versions_version_positive" CHECK ("version" >= 1)
);
--> statement-breakpoint
CREATE TABLE "environments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"project_id" uuid NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"type" "environment_type" NOT NULL,
	"purpose" "environment_purpose",
	"position" integer NOT NULL,
	"promotes_from_id" uuid,
	"region" text,
	"policy" jsonb NOT NULL,
	"deploy_target" jsonb NOT NULL,
	"settings" jsonb NOT NULL,
	"settings_version" integer DEFAULT 1 NOT NULL,
	"frozen" boolean DEFAULT false NOT NULL,
	"expires_at" timestamp(3) with time zone,
	"archived_at" timestamp(3) with time zone,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "environments_project_slug_unique" UNIQUE("project_id","slug"),
	CONSTRAINT "environments_project_id_id_unique" UNIQUE("project_id","id"),
	CONSTRAINT "environments_slug_format" CHECK ("slug" ~ '^[a-z][a-z0-9-]{1,38}$'),
	CONSTRAINT "environments_name_not_blank" CHECK (length(btrim("name")) between 1 and 200),
	CONSTRAINT "environments_position_non_negative" CHECK ("position" >= 0),
	CONSTRAINT "environments_settings_version_positive" CHECK ("settings_version" >= 1),
	CONSTRAINT "environments_not_promoting_from_itself" CHECK ("promotes_from_id" is null or "promotes_from_id" <> "id")
);
--> statement-breakpoint
CREATE TABLE "projects" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"slug" text NOT NULL CONSTRAINT "projects_slug_unique" UNIQUE,
	"name" text NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "projects_slug_format" CHECK ("slug" ~ '^[a-z][a-z0-9-]{1,38}$'),
	CONSTRAINT "projects_name_not_blank" CHECK (length(btrim("name")) between 1 and 200)
);
--> statement-breakpoint
CREATE TABLE "secret_value_versions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"secret_id" uuid NOT NULL,
	"environment_id" uuid NOT NULL,
	"version_id" text NOT NULL,
	"key_id" text NOT NULL,
	"nonce" bytea NOT NULL,
	"ciphertext" bytea NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "secret_value_versions_version_unique" UNIQUE("secret_id","environment_id","version_id")
);
--> statement-breakpoint
CREATE TABLE "secret_values" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"secret_id" uuid NOT NULL,
	"environment_id" uuid NOT NULL,
	"version_id" text NOT NULL,
	"updated_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	"updated_by" text NOT NULL,
	"last_rotated_at" timestamp(3) with time zone,
	"next_rotation_at" timestamp(3) with time zone,
	CONSTRAINT "secret_values_secret_env_unique" UNIQUE("secret_id","environment_id")
);
--> statement-breakpoint
CREATE TABLE "secrets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"project_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"rotation_enabled" boolean DEFAULT false NOT NULL,
	"rotation_days" integer,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "secrets_project_name_unique" UNIQUE("project_id","name"),
	CONSTRAINT "secrets_name_format" CHECK ("name" ~ '^[A-Z][A-Z0-9_]{0,127}$'),
	CONSTRAINT "secrets_rotation_days_range" CHECK ("rotation_days" is null or "rotation_days" between 1 and 3650),
	CONSTRAINT "secrets_rotation_needs_days" CHECK (not "rotation_enabled" or "rotation_days" is not null)
);
--> statement-breakpoint
CREATE INDEX "audit_events_project_at_idx" ON "audit_events" ("project_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "approvals_one_per_person" ON "approvals" ("deployment_id","approver") WHERE "invalidated_at" is null;--> statement-breakpoint
CREATE INDEX "deployments_project_created_idx" ON "deployments" ("project_id","created_at");--> statement-breakpoint
CREATE INDEX "deployments_environment_created_idx" ON "deployments" ("environment_id","created_at");--> statement-breakpoint
CREATE INDEX "releases_project_created_idx" ON "releases" ("project_id","created_at");--> statement-breakpoint
CREATE INDEX "environments_project_position_idx" ON "environments" ("project_id","position");--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "approvals" ADD CONSTRAINT "approvals_deployment_id_deployments_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "deployments"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "deployment_events" ADD CONSTRAINT "deployment_events_deployment_id_deployments_id_fkey" FOREIGN KEY ("deployment_id") REFERENCES "deployments"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "deployment_events" ADD CONSTRAINT "deployment_events_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_environment_id_environments_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_release_id_releases_id_fkey" FOREIGN KEY ("release_id") REFERENCES "releases"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_source_environment_id_environments_id_fkey" FOREIGN KEY ("source_environment_id") REFERENCES "environments"("id") ON DELETE SET NULL;--> statement-breakpoint
ALTER TABLE "releases" ADD CONSTRAINT "releases_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "database_connection_values" ADD CONSTRAINT "database_connection_values_SBRALtWcL0oe_fkey" FOREIGN KEY ("connection_id") REFERENCES "database_connections"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "database_connection_values" ADD CONSTRAINT "database_connection_values_environment_id_environments_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "database_connection_values" ADD CONSTRAINT "database_connection_values_password_secret_id_secrets_id_fkey" FOREIGN KEY ("password_secret_id") REFERENCES "secrets"("id") ON DELETE SET NULL;--> statement-breakpoint
ALTER TABLE "database_connections" ADD CONSTRAINT "database_connections_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "environment_settings_versions" ADD CONSTRAINT "environment_settings_versions_0gHh2JNd4Ut8_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "environments" ADD CONSTRAINT "environments_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "environments" ADD CONSTRAINT "environments_promotes_from_fk" FOREIGN KEY ("project_id","promotes_from_id") REFERENCES "environments"("project_id","id");--> statement-breakpoint
ALTER TABLE "secret_value_versions" ADD CONSTRAINT "secret_value_versions_secret_id_secrets_id_fkey" FOREIGN KEY ("secret_id") REFERENCES "secrets"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "secret_value_versions" ADD CONSTRAINT "secret_value_versions_environment_id_environments_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "secret_values" ADD CONSTRAINT "secret_values_secret_id_secrets_id_fkey" FOREIGN KEY ("secret_id") REFERENCES "secrets"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "secret_values" ADD CONSTRAINT "secret_values_environment_id_environments_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "secrets" ADD CONSTRAINT "secrets_project_id_projects_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE;