// The shell: member facts, the login when auth is on, the navigation and the current view
// (chosen by the URL fragment, e.g. #/keys; the fragment never holds a token).
import { useEffect, useState } from "preact/hooks";
import { api } from "../lib/api.ts";
import { AUTH_CHANGED, logout, memberInfo, openSession, type MemberInfo, type Session } from "../lib/session.ts";
import { AuthView } from "./auth.tsx";
import { ClusterView } from "./cluster.tsx";
import { ErrorBox } from "./common.tsx";
import { KeysView } from "./keys.tsx";
import { LeasesView } from "./leases.tsx";
import { Login } from "./login.tsx";
import { MembersView } from "./members.tsx";
import { MetricsView } from "./metrics.tsx";
import { WatchView } from "./watch.tsx";

interface ViewDef {
  id: string;
  title: string;
  adminOnly: boolean;
  render: (s: Session) => preact.JSX.Element;
}

const VIEWS: ViewDef[] = [
  { id: "cluster", title: "Cluster", adminOnly: false, render: (s) => <ClusterView session={s} /> },
  { id: "keys", title: "Keys", adminOnly: false, render: (s) => <KeysView session={s} /> },
  { id: "watch", title: "Watch", adminOnly: false, render: (s) => <WatchView session={s} /> },
  { id: "leases", title: "Leases", adminOnly: false, render: (s) => <LeasesView session={s} /> },
  { id: "auth", title: "Auth", adminOnly: true, render: (s) => <AuthView session={s} /> },
  { id: "members", title: "Members", adminOnly: true, render: (s) => <MembersView session={s} /> },
  { id: "metrics", title: "Metrics", adminOnly: false, render: (s) => <MetricsView session={s} /> },
];

function currentView(): string {
  const m = /^#\/([a-z]+)/.exec(location.hash);
  return m?.[1] ?? "cluster";
}

export function App() {
  const [info, setInfo] = useState<MemberInfo | undefined>();
  const [session, setSession] = useState<Session | undefined>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>();
  const [expired, setExpired] = useState<string | undefined>();
  const [view, setView] = useState(currentView());

  useEffect(() => {
    const onHash = () => setView(currentView());
    addEventListener("hashchange", onHash);
    // Auth switched on or off in the Auth view: log in again, or go on without a login.
    const onAuthChanged = () =>
      void memberInfo().then((i) => {
        setInfo(i);
        if (!i.authEnabled) {
          logout();
          setSession(openSession(i));
        }
        else if (api.token === undefined) setSession(undefined);
      });
    addEventListener(AUTH_CHANGED, onAuthChanged);
    api.onTokenLost = (err) => {
      logout();
      setExpired(err.message);
      // Auth may have been switched on or off meanwhile: ask the member again.
      void memberInfo()
        .then((i) => {
          setInfo(i);
          setSession(openSession(i));
        })
        .catch(() => setSession(undefined));
    };
    (async () => {
      try {
        const i = await memberInfo();
        setInfo(i);
        setSession(openSession(i));
      } catch (err) {
        setError(err);
      } finally {
        setLoading(false);
      }
    })();
    return () => {
      removeEventListener("hashchange", onHash);
      removeEventListener(AUTH_CHANGED, onAuthChanged);
    };
  }, []);

  if (loading) return <p class="boot">Loading…</p>;
  if (info === undefined) return <ErrorBox error={error} />;
  if (session === undefined) {
    return (
      <Login
        info={info}
        expired={expired}
        onLogin={(s) => {
          setExpired(undefined);
          setSession(s);
        }}
      />
    );
  }
  const views = VIEWS.filter((v) => session.admin || !v.adminOnly);
  const active = views.find((v) => v.id === view) ?? views[0]!;
  return (
    <div class="shell">
      <nav class="nav">
        <div class="brand" title={`cluster ${info.clusterId}`}>
          Conclave <span class="muted">{info.name}</span>
        </div>
        <ul>
          {views.map((v) => (
            <li key={v.id}>
              <a href={`#/${v.id}`} class={v.id === active.id ? "active" : ""} data-testid={`nav-${v.id}`}>
                {v.title}
              </a>
            </li>
          ))}
        </ul>
        <div class="who" data-testid="who">
          {session.user === undefined ? (
            <span class="muted">auth disabled</span>
          ) : (
            <>
              <span>
                {session.user}
                {session.admin ? " (root)" : ""}
              </span>
              <button
                class="link"
                data-testid="logout"
                onClick={() => {
                  logout();
                  setSession(undefined);
                }}
              >
                Log out
              </button>
            </>
          )}
        </div>
      </nav>
      <main class="main" data-testid={`view-${active.id}`}>
        {active.render(session)}
      </main>
    </div>
  );
}
