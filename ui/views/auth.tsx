// Auth (root only): enable/disable, users (add, delete, password, grant/revoke role) and roles
// (add, delete, grant/revoke a permission on a key, a prefix, a range or an open end).
import { useState } from "preact/hooks";
import { api, type Json } from "../lib/api.ts";
import { fromB64, lossy, prefixEnd, toB64, utf8 } from "../lib/bytes.ts";
import { AUTH_CHANGED, describeGrant, type Session } from "../lib/session.ts";
import { ErrorBox, Notice, Section, useAction, usePoll } from "./common.tsx";

interface UserRow {
  name: string;
  roles: string[];
}
interface Perm {
  permType: string;
  key: Uint8Array;
  end: Uint8Array;
}
interface RoleRow {
  name: string;
  perms: Perm[];
}

type Scope = "key" | "prefix" | "range" | "from-key";

export function AuthView({ session }: { session: Session }) {
  const [users, setUsers] = useState<UserRow[]>([]);
  const [roles, setRoles] = useState<RoleRow[]>([]);
  const [enabled, setEnabled] = useState(session.info.authEnabled);
  const [notice, setNotice] = useState<string | undefined>();
  const [reload, setReload] = useState(0);
  const act = useAction();

  const error = usePoll(
    async (signal) => {
      const info = JSON.parse(await api.get("/ui/api/info", signal)) as { authEnabled: boolean };
      setEnabled(info.authEnabled);
      const ul = await api.call("/v3/auth/user/list", {}, signal);
      const us: UserRow[] = [];
      for (const name of (ul.users ?? []) as string[]) {
        const u = await api.call("/v3/auth/user/get", { name }, signal);
        us.push({ name, roles: (u.roles ?? []) as string[] });
      }
      const rl = await api.call("/v3/auth/role/list", {}, signal);
      const rs: RoleRow[] = [];
      for (const role of (rl.roles ?? []) as string[]) {
        const r = await api.call("/v3/auth/role/get", { role }, signal);
        rs.push({ name: role, perms: ((r.perm ?? []) as Json[]).map((p) => ({ permType: (p.permType as string | undefined) ?? "READ", key: fromB64(p.key), end: fromB64(p.range_end) })) });
      }
      setUsers(us);
      setRoles(rs);
    },
    10_000,
    [reload],
  );

  const run = (fn: () => Promise<string>) =>
    act.run(async () => {
      setNotice(undefined);
      setNotice(await fn());
      setReload((n) => n + 1);
    });

  return (
    <>
      <Section title="Authentication">
        <p data-testid="auth-state">Authentication is {enabled ? "enabled" : "disabled"}.</p>
        <div class="row">
          {enabled ? (
            <button class="danger" onClick={() => void run(async () => (await api.call("/v3/auth/disable", {}), dispatchEvent(new Event(AUTH_CHANGED)), "Authentication Disabled"))} data-testid="auth-disable">
              Disable authentication
            </button>
          ) : (
            <button class="primary" onClick={() => void run(async () => (await api.call("/v3/auth/enable", {}), dispatchEvent(new Event(AUTH_CHANGED)), "Authentication Enabled"))} data-testid="auth-enable">
              Enable authentication
            </button>
          )}
        </div>
        {notice !== undefined && <Notice testid="auth-notice">{notice}</Notice>}
        <ErrorBox error={act.error ?? error} />
      </Section>
      <Users users={users} roles={roles.map((r) => r.name)} run={run} busy={act.busy} />
      <Roles roles={roles} run={run} busy={act.busy} />
    </>
  );
}

type Run = (fn: () => Promise<string>) => Promise<void>;

function Users({ users, roles, run, busy }: { users: UserRow[]; roles: string[]; run: Run; busy: boolean }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  return (
    <Section title="Users">
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            await api.call("/v3/auth/user/add", { name, password });
            setName("");
            setPassword("");
            return `User ${name} created`;
          });
        }}
      >
        <input placeholder="user name" value={name} onInput={(e) => setName(e.currentTarget.value)} data-testid="user-name" />
        <input type="password" placeholder="password" autocomplete="new-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} data-testid="user-password" />
        <button type="submit" class="primary" disabled={busy} data-testid="user-add">
          Add user
        </button>
      </form>
      <table class="grid" data-testid="users">
        <thead>
          <tr>
            <th>User</th>
            <th>Roles</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <UserRowView key={u.name} u={u} roles={roles} run={run} busy={busy} />
          ))}
        </tbody>
      </table>
    </Section>
  );
}

function UserRowView({ u, roles, run, busy }: { u: UserRow; roles: string[]; run: Run; busy: boolean }) {
  const [role, setRole] = useState("");
  const [pw, setPw] = useState("");
  return (
    <tr data-testid={`user-${u.name}`}>
      <td>{u.name}</td>
      <td>
        {u.roles.map((r) => (
          <span key={r} class="tag">
            {r}{" "}
            <button class="link" title={`revoke role ${r}`} disabled={busy} onClick={() => void run(async () => (await api.call("/v3/auth/user/revoke", { name: u.name, role: r }), `Role ${r} is revoked from user ${u.name}`))} data-testid={`revoke-${r}`}>
              ×
            </button>
          </span>
        ))}
      </td>
      <td class="actions">
        <select value={role} onChange={(e) => setRole(e.currentTarget.value)} data-testid="grant-role-select">
          <option value="">role…</option>
          {roles.concat(roles.includes("root") ? [] : ["root"]).map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <button disabled={busy || role === ""} onClick={() => void run(async () => (await api.call("/v3/auth/user/grant", { user: u.name, role }), `Role ${role} is granted to user ${u.name}`))} data-testid="grant-role">
          Grant
        </button>{" "}
        <input type="password" class="narrow" placeholder="new password" autocomplete="new-password" value={pw} onInput={(e) => setPw(e.currentTarget.value)} data-testid="new-password" />
        <button disabled={busy || pw === ""} onClick={() => void run(async () => (await api.call("/v3/auth/user/changepw", { name: u.name, password: pw }), setPw(""), "Password updated"))} data-testid="change-password">
          Change password
        </button>{" "}
        <button class="danger" disabled={busy} onClick={() => void run(async () => (await api.call("/v3/auth/user/delete", { name: u.name }), `User ${u.name} deleted`))} data-testid="user-delete">
          Delete
        </button>
      </td>
    </tr>
  );
}

function Roles({ roles, run, busy }: { roles: RoleRow[]; run: Run; busy: boolean }) {
  const [name, setName] = useState("");
  return (
    <Section title="Roles">
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            await api.call("/v3/auth/role/add", { name });
            setName("");
            return `Role ${name} created`;
          });
        }}
      >
        <input placeholder="role name" value={name} onInput={(e) => setName(e.currentTarget.value)} data-testid="role-name" />
        <button type="submit" class="primary" disabled={busy} data-testid="role-add">
          Add role
        </button>
      </form>
      {roles.map((r) => (
        <RoleView key={r.name} r={r} run={run} busy={busy} />
      ))}
    </Section>
  );
}

function RoleView({ r, run, busy }: { r: RoleRow; run: Run; busy: boolean }) {
  const [permType, setPermType] = useState("READWRITE");
  const [scope, setScope] = useState<Scope>("prefix");
  const [key, setKey] = useState("");
  const [end, setEnd] = useState("");
  const grant = () =>
    run(async () => {
      const k = utf8(key);
      const rangeEnd = scope === "key" ? new Uint8Array(0) : scope === "prefix" ? prefixEnd(k) : scope === "from-key" ? new Uint8Array([0]) : utf8(end);
      // etcdctl's form for the whole keyspace: key "\0" with range end "\0".
      const kk = k.length === 0 && scope !== "key" ? new Uint8Array([0]) : k;
      await api.call("/v3/auth/role/grant", { name: r.name, perm: { permType, key: toB64(kk), range_end: toB64(rangeEnd) } });
      return `Role ${r.name} updated`;
    });
  return (
    <div class="role" data-testid={`role-${r.name}`}>
      <h3>
        {r.name}{" "}
        <button class="link danger" disabled={busy} onClick={() => void run(async () => (await api.call("/v3/auth/role/delete", { role: r.name }), `Role ${r.name} deleted`))} data-testid="role-delete">
          delete role
        </button>
      </h3>
      <ul>
        {r.perms.map((p) => (
          <li key={lossy(p.key) + lossy(p.end)} data-testid="perm">
            {p.permType} {describeGrant({ key: p.key, end: p.end })}{" "}
            <button
              class="link"
              disabled={busy}
              onClick={() =>
                void run(async () => {
                  await api.call("/v3/auth/role/revoke", { role: r.name, key: toB64(p.key), range_end: toB64(p.end) });
                  return `Permission of ${describeGrant({ key: p.key, end: p.end })} is revoked from role ${r.name}`;
                })
              }
              data-testid="perm-revoke"
            >
              revoke
            </button>
          </li>
        ))}
      </ul>
      <div class="row">
        <select value={permType} onChange={(e) => setPermType(e.currentTarget.value)} data-testid="perm-type">
          <option>READ</option>
          <option>WRITE</option>
          <option>READWRITE</option>
        </select>
        <select value={scope} onChange={(e) => setScope(e.currentTarget.value as Scope)} data-testid="perm-scope">
          <option value="key">key</option>
          <option value="prefix">prefix</option>
          <option value="range">range [key, end)</option>
          <option value="from-key">from key on</option>
        </select>
        <input class="mono" placeholder="key" value={key} onInput={(e) => setKey(e.currentTarget.value)} data-testid="perm-key" />
        {scope === "range" && <input class="mono" placeholder="range end" value={end} onInput={(e) => setEnd(e.currentTarget.value)} data-testid="perm-end" />}
        <button disabled={busy} onClick={() => void grant()} data-testid="perm-grant">
          Grant permission
        </button>
      </div>
    </div>
  );
}

