// etcdctl v2's user, role and auth commands (ctlv2/command/user_commands.go,
// role_commands.go, auth_commands.go): the v2 security API, its texts and exit codes.
import { AuthApi, canonicalURLPath, type PermissionType } from "../../../src/client/v2/index.ts";
import { errln, out, outln } from "../io.ts";
import { askPassword } from "../password.ts";
import type { V2Command, V2Context } from "./app.ts";
import { failPlain, stop } from "./output.ts";
import { Session } from "./session.ts";

async function api(c: V2Context): Promise<{ s: Session; a: AuthApi }> {
  const s = new Session(c, process.env);
  const hc = await s.client();
  // mustNewAuthUserAPI / mustNewAuthRoleAPI / mustNewAuthAPI print the endpoints once more.
  if (c.global.bool("debug")) errln(`Cluster-Endpoints: ${hc.endpoints().join(", ")}`);
  return { s, a: new AuthApi(hc) };
}

function noArgs(c: V2Context): void {
  if (c.args.length !== 0) {
    errln("No arguments accepted");
    stop(1);
  }
}

function oneName(c: V2Context, what: string): string {
  if (c.args.length !== 1) {
    errln(`Please provide a ${what}`);
    stop(1);
  }
  return c.args[0]!;
}

async function run<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    failPlain(e);
  }
}

const rolesFlag = { names: "roles", type: "stringSlice" as const, usage: "List of roles to grant or revoke" };

function userGrantRevoke(grant: boolean): V2Command["run"] {
  return async (c) => {
    const roles = c.flags.strings("roles");
    if (roles.length === 0) {
      errln("No roles specified; please use `--roles`");
      stop(1);
    }
    const name = oneName(c, "username");
    const { s, a } = await api(c);
    const deadline = s.deadline();
    await run(() => (grant ? a.grantUser(name, roles, deadline) : a.revokeUser(name, roles, deadline)));
    outln(`User ${name} updated`);
  };
}

export const userCommand: V2Command = {
  name: "user",
  usage: "user add, grant and revoke subcommands",
  sub: [
    {
      name: "add",
      usage: "add a new user for the etcd cluster",
      argsUsage: "<user>",
      async run(c) {
        const arg = oneName(c, "username");
        const { s, a } = await api(c);
        const colon = arg.indexOf(":");
        const user = colon >= 0 ? arg.slice(0, colon) : arg;
        const pass = colon >= 0 ? arg.slice(colon + 1) : await askPassword("New password: ");
        await run(() => a.addUser(user, pass, s.deadline()));
        outln(`User ${user} created`);
      },
    },
    {
      name: "get",
      usage: "get details for a user",
      argsUsage: "<user>",
      async run(c) {
        const name = oneName(c, "username");
        const { s, a } = await api(c);
        const u = await run(() => a.getUser(name, s.deadline()));
        outln(`User: ${u.user}`);
        outln(`Roles: ${u.roles.join(" ")}`);
      },
    },
    {
      name: "list",
      usage: "list all current users",
      argsUsage: "<user>",
      async run(c) {
        noArgs(c);
        const { s, a } = await api(c);
        for (const u of await run(() => a.listUsers(s.deadline()))) outln(u);
      },
    },
    {
      name: "remove",
      usage: "remove a user for the etcd cluster",
      argsUsage: "<user>",
      async run(c) {
        const name = oneName(c, "username");
        const { s, a } = await api(c);
        await run(() => a.removeUser(name, s.deadline()));
        outln(`User ${name} removed`);
      },
    },
    { name: "grant", usage: "grant roles to an etcd user", argsUsage: "<user>", flags: [rolesFlag], run: userGrantRevoke(true) },
    { name: "revoke", usage: "revoke roles for an etcd user", argsUsage: "<user>", flags: [rolesFlag], run: userGrantRevoke(false) },
    {
      name: "passwd",
      usage: "change password for a user",
      argsUsage: "<user>",
      async run(c) {
        const name = oneName(c, "username");
        const { s, a } = await api(c);
        const pass = await askPassword("New password: ");
        await run(() => a.changePassword(name, pass, s.deadline()));
        outln("Password updated");
      },
    },
  ],
};

function roleFlags(verb: "Grant" | "Revoke", what: "granted" | "revoked") {
  return [
    { names: "path", type: "string" as const, usage: `Path ${what} for the role to access` },
    { names: "read", type: "bool" as const, usage: verb === "Grant" ? "Grant read-only access" : "Revoke read access" },
    { names: "write", type: "bool" as const, usage: verb === "Grant" ? "Grant write-only access" : "Revoke write access" },
    { names: "readwrite, rw", type: "bool" as const, usage: `${verb} read-write access` },
  ];
}

function roleGrantRevoke(grant: boolean): V2Command["run"] {
  return async (c) => {
    const path = c.flags.string("path");
    if (path === "") {
      errln("No path specified; please use `--path`");
      stop(1);
    }
    if (canonicalURLPath(path) !== path) {
      errln(`Not canonical path; please use \`--path=${canonicalURLPath(path)}\``);
      stop(1);
    }
    const picked = (["read", "write", "readwrite"] as const).filter((f) => c.flags.bool(f));
    if (picked.length !== 1) {
      errln("Please specify exactly one of --read, --write or --readwrite");
      stop(1);
    }
    const perm: PermissionType = picked[0]!;
    const name = oneName(c, "role name");
    const { s, a } = await api(c);
    const deadline = s.deadline();
    const current = await run(() => a.getRole(name, deadline));
    const updated = await run(() => (grant ? a.grantRole(name, [path], perm, deadline) : a.revokeRole(name, [path], perm, deadline)));
    if (JSON.stringify(updated) === JSON.stringify(current)) out(grant ? "Role unchanged; already granted" : "Role unchanged; already revoked");
    outln(`Role ${name} updated`);
  };
}

export const roleCommand: V2Command = {
  name: "role",
  usage: "role add, grant and revoke subcommands",
  sub: [
    {
      name: "add",
      usage: "add a new role for the etcd cluster",
      argsUsage: "<role> ",
      async run(c) {
        const name = oneName(c, "role name");
        const { s, a } = await api(c);
        const deadline = s.deadline();
        const exists = await a.getRole(name, deadline).then(
          () => true,
          () => false,
        );
        if (exists) {
          errln(`Role ${name} already exists`);
          stop(1);
        }
        await run(() => a.addRole(name, deadline));
        outln(`Role ${name} created`);
      },
    },
    {
      name: "get",
      usage: "get details for a role",
      argsUsage: "<role>",
      async run(c) {
        const name = oneName(c, "role name");
        const { s, a } = await api(c);
        const r = await run(() => a.getRole(name, s.deadline()));
        outln(`Role: ${r.role}`);
        outln("KV Read:");
        for (const p of r.permissions.kv.read ?? []) outln(`\t${p}`);
        outln("KV Write:");
        for (const p of r.permissions.kv.write ?? []) outln(`\t${p}`);
      },
    },
    {
      name: "list",
      usage: "list all roles",
      argsUsage: " ",
      async run(c) {
        noArgs(c);
        const { s, a } = await api(c);
        for (const r of await run(() => a.listRoles(s.deadline()))) outln(r);
      },
    },
    {
      name: "remove",
      usage: "remove a role from the etcd cluster",
      argsUsage: "<role>",
      async run(c) {
        const name = oneName(c, "role name");
        const { s, a } = await api(c);
        await run(() => a.removeRole(name, s.deadline()));
        outln(`Role ${name} removed`);
      },
    },
    { name: "grant", usage: "grant path matches to an etcd role", argsUsage: "<role>", flags: roleFlags("Grant", "granted"), run: roleGrantRevoke(true) },
    { name: "revoke", usage: "revoke path matches for an etcd role", argsUsage: "<role>", flags: roleFlags("Revoke", "revoked"), run: roleGrantRevoke(false) },
  ],
};

function authEnableDisable(enable: boolean): V2Command["run"] {
  return async (c) => {
    noArgs(c);
    const { s, a } = await api(c);
    await run(() => a.enable(enable, s.deadline()));
    outln(enable ? "Authentication Enabled" : "Authentication Disabled");
  };
}

export const authCommand: V2Command = {
  name: "auth",
  usage: "overall auth controls",
  sub: [
    { name: "enable", usage: "enable auth access controls", argsUsage: " ", run: authEnableDisable(true) },
    { name: "disable", usage: "disable auth access controls", argsUsage: " ", run: authEnableDisable(false) },
  ],
};
