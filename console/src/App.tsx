// The console: sign-in, then a shell (header with the live connection's state) around the pages.
import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react';
import { errorsOf, LiveConnection, request, type ServerError } from './api.ts';
import { Loading, PageTitle, useDialogOpen } from './components/ui.tsx';
import { VIEWER } from './operations.ts';
import { ComparePage } from './pages/Compare.tsx';
import { DeploymentPage } from './pages/Deployment.tsx';
import { PipelinePage } from './pages/Pipeline.tsx';
import { ProjectSettingsPage } from './pages/ProjectSettings.tsx';
import { PolicyPage } from './pages/Policy.tsx';
import { ProjectsPage } from './pages/Projects.tsx';
import { SignIn } from './pages/SignIn.tsx';
import { Link, match, paths, useLocation } from './router.tsx';
import { SessionContext, useConnectionState, useSession, type Session } from './session.tsx';
import { forgetToken, storedToken, storeToken, takeTokenFromFragment } from './token.ts';
import { beginSignIn, CALLBACK_PATH, completeSignIn, loadSignInConfig, type SignInConfig } from './oidc.ts';
import { navigate } from './router.tsx';

// The insights page and its chart library (uPlot) load when first opened, not with every page.
const InsightsPage = lazy(() => import('./pages/Insights.tsx').then((m) => ({ default: m.InsightsPage })));

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [booting, setBooting] = useState(true);
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<ServerError[] | null>(null);
  const current = useRef<Session | null>(null);
  const [provider, setProvider] = useState<SignInConfig | null>(null);

  const endSession = useCallback((reason?: ServerError[]) => {
    current.current?.live.dispose();
    current.current = null;
    forgetToken();
    setSession(null);
    setErrors(reason ?? null);
  }, []);

  const signIn = useCallback(
    async (token: string) => {
      setBusy(true);
      setErrors(null);
      try {
        // The server decides: a token is kept only once it answers who we are.
        const { viewer } = await request(VIEWER, {}, token);
        storeToken(token);
        current.current?.live.dispose();
        const live = new LiveConnection(token, (reason) => endSession([{ message: reason, code: 'UNAUTHENTICATED', extensions: {} }]));
        const next: Session = { token, subject: viewer.subject, roles: viewer.roles, live, signOut: () => endSession() };
        current.current = next;
        setSession(next);
      } catch (error) {
        const errs = errorsOf(error);
        // A refused token is forgotten; an unreachable server keeps it for the next try.
        if (errs[0]?.code !== 'NETWORK_ERROR') forgetToken();
        setErrors(errs);
      } finally {
        setBusy(false);
        setBooting(false);
      }
    },
    [endSession],
  );

  useEffect(() => {
    void (async () => {
      const config = await loadSignInConfig();
      setProvider(config);
      if (config && location.pathname === CALLBACK_PATH) {
        // Back from the identity provider: the code becomes a token, then the usual check.
        try {
          const { token, returnTo } = await completeSignIn(config);
          navigate(returnTo, { replace: true });
          await signIn(token);
        } catch (error) {
          setErrors(errorsOf(error));
          setBooting(false);
        }
        return;
      }
      const token = takeTokenFromFragment() ?? storedToken();
      if (token) await signIn(token);
      else setBooting(false);
    })();
    return () => current.current?.live.dispose();
  }, [signIn]);

  const signInWithProvider = useCallback(async () => {
    if (!provider) return;
    setBusy(true);
    setErrors(null);
    try {
      const returnTo = location.pathname === CALLBACK_PATH ? '/' : location.pathname + location.search;
      await beginSignIn(provider, returnTo);
    } catch (error) {
      setErrors(errorsOf(error));
      setBusy(false);
    }
  }, [provider]);

  if (booting) {
    return (
      <main id="main" className="signin">
        <p role="status">Signing in…</p>
      </main>
    );
  }
  if (!session) {
    return (
      <SignIn
        onSignIn={(t) => void signIn(t)}
        provider={provider ? { onSignIn: () => void signInWithProvider() } : null}
        errors={errors}
        busy={busy}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Shell />
    </SessionContext.Provider>
  );
}

function ConnectionStatus() {
  const { live } = useSession();
  const state = useConnectionState(live);
  const text = { connecting: 'Connecting…', connected: 'Live', reconnecting: 'Reconnecting…', closed: 'Offline' }[state];
  return (
    <p role="status" className={`connection connection-${state}`} title="Live updates (WebSocket)">
      <span aria-hidden="true" className="connection-dot" />
      {text}
    </p>
  );
}

function ReconnectingBanner() {
  const { live } = useSession();
  const state = useConnectionState(live);
  if (state !== 'reconnecting') return null;
  return (
    <div className="banner banner-warning">
      <strong>Reconnecting</strong> to the server: the connection was lost. Live updates resume where they stopped once it is back.
    </div>
  );
}

function Shell() {
  const session = useSession();
  const { pathname } = useLocation();
  const route = match(pathname);
  let page;
  switch (route.page) {
    case 'projects':
      page = <ProjectsPage key="projects" />;
      break;
    case 'pipeline':
      page = <PipelinePage key={`p:${route.slug}`} slug={route.slug} />;
      break;
    case 'compare':
      page = <ComparePage key={`c:${route.slug}`} slug={route.slug} />;
      break;
    case 'insights':
      page = (
        <Suspense fallback={<Loading what="insights" />}>
          <InsightsPage key={`i:${route.slug}`} slug={route.slug} />
        </Suspense>
      );
      break;
    case 'policy':
      page = <PolicyPage key={`pol:${route.slug}:${route.env}`} slug={route.slug} env={route.env} />;
      break;
    case 'settings':
      page = <ProjectSettingsPage key={`s:${route.slug}`} slug={route.slug} />;
      break;
    case 'deployment':
      page = <DeploymentPage key={`d:${route.id}`} id={route.id} />;
      break;
    default:
      page = (
        <>
          <PageTitle>Not found</PageTitle>
          <p>
            Nothing here. <Link to={paths.projects()}>All projects</Link>
          </p>
        </>
      );
  }
  const hidden = useDialogOpen();
  return (
    <div className="shell" aria-hidden={hidden || undefined}>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <Link to={paths.projects()} className="brand">
          Stageplane
        </Link>
        <nav aria-label="Main" className="topnav">
          <Link to={paths.projects()}>Projects</Link>
        </nav>
        <ConnectionStatus />
        <p className="whoami">
          <span className="visually-hidden">Signed in as </span>
          <strong>{session.subject}</strong> <span className="muted">{session.roles.join(', ')}</span>
        </p>
        <button type="button" className="button-secondary signout" onClick={session.signOut}>
          Sign out
        </button>
      </header>
      <ReconnectingBanner />
      <main id="main">{page}</main>
    </div>
  );
}
