CREATE TABLE "project_writes" (
	"project_id" uuid,
	"xid" xid8,
	"at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "project_writes_pkey" PRIMARY KEY("project_id","xid")
);
--> statement-breakpoint
CREATE INDEX "project_writes_at_idx" ON "project_writes" ("at");--> statement-breakpoint
-- Every statement that writes a project's data notes (project, transaction) in project_writes,
-- from its transition table: one row per project and transaction, whatever the number of rows.
-- Four ways a row names its project; one function each, so each plan is static.
CREATE FUNCTION "note_project_writes_by_project_id"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO project_writes (project_id, xid)
    SELECT p, pg_current_xact_id() FROM (SELECT DISTINCT project_id AS p FROM changed WHERE project_id IS NOT NULL) s
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "note_project_writes_by_id"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO project_writes (project_id, xid)
    SELECT p, pg_current_xact_id() FROM (SELECT DISTINCT id AS p FROM changed) s
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "note_project_writes_by_environment_id"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO project_writes (project_id, xid)
    SELECT p, pg_current_xact_id()
    FROM (SELECT DISTINCT e.project_id AS p FROM changed c JOIN environments e ON e.id = c.environment_id) s
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "note_project_writes_by_deployment_id"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO project_writes (project_id, xid)
    SELECT p, pg_current_xact_id()
    FROM (SELECT DISTINCT d.project_id AS p FROM changed c JOIN deployments d ON d.id = c.deployment_id) s
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- A row deleted by a cascade from its environment or deployment may no longer find it: the
-- parent's own delete notes the project in the same transaction.
DO $$
DECLARE
  t record;
  op text;
BEGIN
  FOR t IN SELECT * FROM (VALUES
    ('projects', 'id'),
    ('api_tokens', 'project_id'),
    ('audit_events', 'project_id'),
    ('database_connections', 'project_id'),
    ('database_connection_values', 'environment_id'),
    ('releases', 'project_id'),
    ('deployments', 'project_id'),
    ('approvals', 'deployment_id'),
    ('deployment_events', 'project_id'),
    ('environments', 'project_id'),
    ('environment_settings_versions', 'environment_id'),
    ('freeze_windows', 'project_id'),
    ('freeze_overrides', 'deployment_id'),
    ('notification_channels', 'project_id'),
    ('notification_deliveries', 'project_id'),
    ('preview_policies', 'project_id'),
    ('project_members', 'project_id'),
    ('trust_policies', 'project_id'),
    ('release_quarantines', 'environment_id'),
    ('secrets', 'project_id'),
    ('secret_values', 'environment_id'),
    ('secret_value_versions', 'environment_id')
  ) AS v(tbl, via) LOOP
    FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
      EXECUTE format(
        'CREATE TRIGGER %I AFTER %s ON %I REFERENCING %s TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION %I()',
        t.tbl || '_notes_project_writes_' || op, op, t.tbl, CASE op WHEN 'delete' THEN 'OLD' ELSE 'NEW' END,
        'note_project_writes_by_' || t.via);
    END LOOP;
  END LOOP;
END $$;
