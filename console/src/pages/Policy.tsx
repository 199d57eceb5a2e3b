// An environment's policy report: every best-practice check of its type, passed or failed.
import { request } from '../api.ts';
import { ErrorList, Loading, PageTitle } from '../components/ui.tsx';
import { POLICY } from '../operations.ts';
import { Link, paths } from '../router.tsx';
import { useLoader, useSession } from '../session.tsx';
import { ScrollBox } from '../components/ScrollBox.tsx';

export function PolicyPage({ slug, env }: { slug: string; env: string }) {
  const { token } = useSession();
  const result = useLoader(() => request(POLICY, { slug, env }, token));
  const project = result.data?.project;
  const environment = project?.environment;
  if (result.loading && !result.data) return <Loading what="the policy report" />;
  if (!project || !environment) {
    return (
      <>
        <PageTitle>Policy report</PageTitle>
        {result.errors ? (
          <ErrorList errors={result.errors} />
        ) : (
          <p>
            No environment {env} in project {slug}.
          </p>
        )}
      </>
    );
  }
  const report = environment.policyReport;
  const failed = report.checks.filter((c) => !c.passed);
  const errors = failed.filter((c) => c.severity === 'error').length;
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to={paths.projects()}>Projects</Link> <span aria-hidden="true">›</span> <Link to={paths.project(slug)}>{project.name}</Link>{' '}
        <span aria-hidden="true">›</span> <span>{environment.name} policy</span>
      </nav>
      <PageTitle>Policy report: {environment.name}</PageTitle>
      <p className={report.passed ? 'ok-text' : 'error-text'}>
        {report.passed
          ? `Passed: no failed check of severity error${failed.length ? ` (${failed.length} warning${failed.length === 1 ? '' : 's'})` : ''}.`
          : `Failed: ${errors} check${errors === 1 ? '' : 's'} of severity error fail; deploy, promote and roll back into ${environment.name} are refused.`}
      </p>
      <ScrollBox label="Policy checks">
        <table className="policy">
          <caption>
            {report.checks.length} checks for a {environment.type.toLowerCase()} environment
          </caption>
          <thead>
            <tr>
              <th scope="col">Check</th>
              <th scope="col">Severity</th>
              <th scope="col">Result</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {report.checks.map((c) => (
              <tr key={c.id} className={c.passed ? 'check-passed' : `check-failed check-${c.severity}`}>
                <th scope="row">
                  {c.title}
                  <br />
                  <code className="muted">{c.id}</code>
                </th>
                <td>{c.severity === 'error' ? 'Error' : 'Warning'}</td>
                <td>
                  <span className={`status ${c.passed ? 'status-succeeded' : c.severity === 'error' ? 'status-failed' : 'status-waiting'}`}>
                    <span aria-hidden="true" className="status-icon">
                      {c.passed ? '✓' : '✗'}
                    </span>
                    {c.passed ? 'Passed' : 'Failed'}
                  </span>
                </td>
                <td>{c.detail ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollBox>
    </>
  );
}
