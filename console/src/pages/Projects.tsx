// The projects, each a link (named after the project) to its pipeline.
import { useId, useState, type FormEvent } from 'react';
import { errorsOf, request, type ServerError } from '../api.ts';
import { ErrorList, Loading, PageTitle } from '../components/ui.tsx';
import { CREATE_PROJECT, PROJECTS } from '../operations.ts';
import { Link, navigate, paths } from '../router.tsx';
import { useLoader, useSession } from '../session.tsx';

export function ProjectsPage() {
  const { token } = useSession();
  const projects = useLoader(() => request(PROJECTS, {}, token));
  const list = projects.data?.projects.edges.map((e) => e.node) ?? [];
  return (
    <>
      <PageTitle>Projects</PageTitle>
      {projects.errors ? <ErrorList errors={projects.errors} /> : null}
      {projects.loading ? <Loading what="projects" /> : null}
      {projects.data && list.length === 0 ? <p>No projects yet. Create one below (ADMIN).</p> : null}
      {list.length > 0 ? (
        <ul className="project-list">
          {list.map((p) => (
            <li key={p.id} className="card project-card">
              <Link to={paths.project(p.slug)} className="project-link">
                {p.name}
              </Link>
              <p className="muted">
                <code>{p.slug}</code> · {p.environments.length} environment{p.environments.length === 1 ? '' : 's'}:{' '}
                {p.environments.map((e) => e.name).join(' → ')}
              </p>
            </li>
          ))}
        </ul>
      ) : null}
      <CreateProject />
    </>
  );
}

function CreateProject() {
  const { token } = useSession();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [errors, setErrors] = useState<ServerError[] | null>(null);
  const [busy, setBusy] = useState(false);
  const nameId = useId();
  const slugId = useId();
  const suggested = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+|-+$/g, '')
    .slice(0, 39);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setErrors(null);
    try {
      const created = await request(
        CREATE_PROJECT,
        { input: { name: name.trim(), slug: slug.trim() || suggested, withDefaultEnvironments: true } },
        token,
      );
      navigate(paths.project(created.createProject.slug));
    } catch (error) {
      setErrors(errorsOf(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <details className="card form-card">
      <summary>New project</summary>
      <form onSubmit={submit}>
        <p className="hint">Comes with development, staging and production.</p>
        <div className="form-row">
          <p className="field">
            <label htmlFor={nameId}>Name</label>
            <input id={nameId} value={name} onChange={(e) => setName(e.target.value)} required />
          </p>
          <p className="field">
            <label htmlFor={slugId}>Slug</label>
            <input id={slugId} value={slug} placeholder={suggested} onChange={(e) => setSlug(e.target.value)} />
          </p>
        </div>
        {errors ? <ErrorList errors={errors} /> : null}
        <button type="submit" className="button-primary" disabled={busy}>
          Create project
        </button>
      </form>
    </details>
  );
}
