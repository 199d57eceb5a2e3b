// Two environments side by side: `compareEnvironments` as a table.
import { useId, useState, type FormEvent } from 'react';
import { request } from '../api.ts';
import { ErrorList, Loading, PageTitle } from '../components/ui.tsx';
import { COMPARE, PROJECT_ENVIRONMENTS } from '../operations.ts';
import { Link, navigate, paths, useLocation } from '../router.tsx';
import { useLoader, useSession } from '../session.tsx';
import { ScrollBox } from '../components/ScrollBox.tsx';

const show = (value: unknown) => (value === undefined || value === null ? '—' : typeof value === 'string' ? value : JSON.stringify(value));

export function ComparePage({ slug }: { slug: string }) {
  const { token } = useSession();
  const { query } = useLocation();
  const envs = useLoader(() => request(PROJECT_ENVIRONMENTS, { slug }, token));
  const project = envs.data?.project;
  const list = project?.environments ?? [];
  // Default: the last stage against the one it is promoted from.
  const last = list[list.length - 1];
  const base = query.get('base') ?? last?.promotesFrom?.slug ?? list[0]?.slug ?? '';
  const target = query.get('target') ?? last?.slug ?? '';
  if (envs.loading && !envs.data) return <Loading what="environments" />;
  if (!project) {
    return (
      <>
        <PageTitle>Compare environments</PageTitle>
        {envs.errors ? <ErrorList errors={envs.errors} /> : <p>No project with the slug {slug}.</p>}
      </>
    );
  }
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.projects()}>Projects</Link> <span aria-hidden="true">›</span> <Link to={paths.project(slug)}>{project.name}</Link>{' '}
        <span aria-hidden="true">›</span> <span>Compare</span>
      </nav>
      <PageTitle>Compare environments</PageTitle>
      <ChooseEnvironments slug={slug} environments={list} base={base} target={target} />
      {base && target ? <Differences key={`${base}:${target}`} slug={slug} base={base} target={target} /> : null}
    </>
  );
}

type EnvironmentOption = { slug: string; name: string };

function ChooseEnvironments({
  slug,
  environments,
  base,
  target,
}: {
  slug: string;
  environments: readonly EnvironmentOption[];
  base: string;
  target: string;
}) {
  const [b, setB] = useState(base);
  const [t, setT] = useState(target);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    navigate(paths.compare(slug, b, t), { replace: true });
  };
  return (
    <form className="card compare-form" onSubmit={submit} aria-label="Environments to compare">
      <EnvironmentSelect label="Base" environments={environments} value={b} onChange={setB} />
      <EnvironmentSelect label="Target" environments={environments} value={t} onChange={setT} />
      <button type="submit" className="button-primary">
        Compare
      </button>
    </form>
  );
}

function EnvironmentSelect({
  label,
  environments,
  value,
  onChange,
}: {
  label: string;
  environments: readonly EnvironmentOption[];
  value: string;
  onChange: (slug: string) => void;
}) {
  const id = useId();
  return (
    <p className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {environments.map((e) => (
          <option key={e.slug} value={e.slug}>
            {e.name}
          </option>
        ))}
      </select>
    </p>
  );
}

function Differences({ slug, base, target }: { slug: string; base: string; target: string }) {
  const { token } = useSession();
  const result = useLoader(() => request(COMPARE, { slug, base, target }, token));
  const comparison = result.data?.project?.compareEnvironments;
  if (result.loading && !result.data) return <Loading what="the comparison" />;
  if (result.errors) return <ErrorList errors={result.errors} />;
  if (!comparison) return null;
  if (comparison.identical) {
    return (
      <p className="ok-text">
        {comparison.base.name} and {comparison.target.name} are configured alike: no differences.
      </p>
    );
  }
  return (
    <ScrollBox label="Differences">
      <table className="diff">
        <caption>
          {comparison.differences.length} difference{comparison.differences.length === 1 ? '' : 's'} between {comparison.base.name} and{' '}
          {comparison.target.name}
        </caption>
        <thead>
          <tr>
            <th scope="col">Path</th>
            <th scope="col">{comparison.base.name}</th>
            <th scope="col">{comparison.target.name}</th>
          </tr>
        </thead>
        <tbody>
          {comparison.differences.map((d) => (
            <tr key={d.path}>
              <th scope="row">
                <code>{d.path}</code>
              </th>
              <td>
                <code>{show(d.base)}</code>
              </td>
              <td>
                <code>{show(d.target)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollBox>
  );
}
