// The login page (auth enabled): Authenticate through the gateway; the token stays in this tab.
import { useState } from "preact/hooks";
import { login, type MemberInfo, type Session } from "../lib/session.ts";
import { ErrorBox, Notice, useAction } from "./common.tsx";

export function Login({ info, expired, onLogin }: { info: MemberInfo; expired: string | undefined; onLogin: (s: Session) => void }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const act = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void act.run(async () => onLogin(await login(info, name, password)));
  };
  return (
    <div class="login">
      <form class="panel" onSubmit={submit} data-testid="login-form">
        <h1>Conclave</h1>
        <p class="muted">
          Member {info.name} ({info.memberId}). Authentication is enabled: log in with an etcd user.
        </p>
        {expired !== undefined && <Notice testid="session-expired">Your session ended ({expired}). Log in again.</Notice>}
        <label>
          User
          <input name="user" autocomplete="username" value={name} onInput={(e) => setName(e.currentTarget.value)} data-testid="login-user" />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            data-testid="login-password"
          />
        </label>
        <button type="submit" disabled={act.busy || name === ""} data-testid="login-submit">
          Log in
        </button>
        <ErrorBox error={act.error} />
      </form>
    </div>
  );
}
