// auth enable/disable, user add/delete/get/list/passwd/grant-role/revoke-role,
// role add/delete/get/list/grant-permission/revoke-permission.
import {
  Auth, AuthRoleAddResponseSchema, AuthRoleDeleteResponseSchema, AuthRoleGetResponseSchema, AuthRoleGrantPermissionResponseSchema, AuthRoleListResponseSchema,
  AuthRoleRevokePermissionResponseSchema, AuthUserAddResponseSchema, AuthUserChangePasswordResponseSchema, AuthUserDeleteResponseSchema,
  AuthUserGetResponseSchema, AuthUserGrantRoleResponseSchema, AuthUserListResponseSchema, AuthUserRevokeRoleResponseSchema,
} from "../../../src/gen/rpc_pb.ts";
import { Permission_Type } from "../../../src/gen/auth_pb.ts";
import { bytes, ClientError, prefixEnd } from "../../../src/client/index.ts";
import { Errors } from "../../../src/rpctypes/index.ts";
import type { Command } from "../command.ts";
import { Exit, fail } from "../exit.ts";
import type { FlagSet } from "../flags.ts";
import type { Globals } from "../globals.ts";
import { outln, readStdin } from "../io.ts";
import { callOrFail } from "./util.ts";

const LONG = 3_600_000;
const dl = () => ({ deadline: Date.now() + LONG });

async function passwordFromStdin(): Promise<string> {
  // fmt.Scanf("%s"): the first whitespace-separated word.
  const t = new TextDecoder().decode(await readStdin());
  return t.trim().split(/\s+/)[0] ?? "";
}

/** readPasswordInteractive: asked twice (echo off on a terminal), both must match. */
async function passwordInteractive(name: string): Promise<string> {
  const { askPassword } = await import("../password.ts");
  const p1 = await askPassword(`Password of ${name}: `);
  if (p1.length === 0) fail(Exit.BadArgs, "empty password");
  const p2 = await askPassword(`Type password of ${name} again for confirmation: `);
  if (p1 !== p2) fail(Exit.BadArgs, "given passwords are different");
  return p1;
}

async function client(g: Globals) {
  return g.client();
}

export const authCommand: Command = {
  name: "auth",
  use: "auth <enable or disable>",
  short: "Enable or disable authentication",
  sub: [
    {
      name: "enable",
      use: "enable",
      short: "Enables authentication",
      async run({ args, g }) {
        if (args.length !== 0) fail(Exit.BadArgs, "auth enable command does not accept any arguments");
        const c = await client(g);
        const deadline = g.deadline();
        for (;;) {
          try {
            await c.call(Auth.method.authEnable, {}, { deadline });
            break;
          } catch (e) {
            if (e instanceof ClientError && e.is(Errors.rootRoleNotExist)) {
              await callOrFail(g, () => c.call(Auth.method.roleAdd, { name: "root" }, { deadline }));
              await callOrFail(g, () => c.call(Auth.method.userGrantRole, { user: "root", role: "root" }, { deadline }));
              continue;
            }
            if (e instanceof ClientError) fail(Exit.Error, e.text);
            throw e;
          }
        }
        outln("Authentication Enabled");
      },
    },
    {
      name: "disable",
      use: "disable",
      short: "Disables authentication",
      async run({ args, g }) {
        if (args.length !== 0) fail(Exit.BadArgs, "auth disable command does not accept any arguments");
        const c = await client(g);
        await callOrFail(g, () => c.call(Auth.method.authDisable, {}, { deadline: g.deadline() }));
        outln("Authentication Disabled");
      },
    },
  ],
};

export const userCommand: Command = {
  name: "user",
  use: "user <subcommand>",
  short: "User related commands",
  sub: [
    {
      name: "add",
      use: "add <user name or user:password> [options]",
      short: "Adds a new user",
      flags: [
        { name: "interactive", type: "bool", def: "true", usage: "Read password from stdin instead of interactive terminal" },
        { name: "new-user-password", type: "string", def: "", usage: "Supply password from the command line flag" },
        { name: "no-password", type: "bool", def: "false", usage: "Create a user without password (CN based auth only)" },
      ],
      async run({ args, flags, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "user add command requires user name as its argument");
        let user = args[0]!;
        let password = "";
        const noPassword = flags.bool("no-password");
        if (!noPassword) {
          const fromFlag = flags.string("new-user-password");
          if (fromFlag !== "") password = fromFlag;
          else {
            const i = user.indexOf(":");
            if (i < 0) {
              if (!flags.bool("interactive")) password = await passwordFromStdin();
              else password = await passwordInteractive(user);
            } else {
              password = user.slice(i + 1);
              user = user.slice(0, i);
              if (user.length === 0) fail(Exit.BadArgs, "empty user name is not allowed");
            }
          }
        }
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.userAdd, { name: user, password, options: { noPassword } }, dl()));
        g.display().authSimple(`User ${user} created`, r, AuthUserAddResponseSchema);
      },
    },
    {
      name: "delete",
      use: "delete <user name>",
      short: "Deletes a user",
      async run({ args, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "user delete command requires user name as its argument");
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.userDelete, { name: args[0]! }, dl()));
        g.display().authSimple(`User ${args[0]} deleted`, r, AuthUserDeleteResponseSchema);
      },
    },
    {
      name: "get",
      use: "get <user name> [options]",
      short: "Gets detailed information of a user",
      flags: [{ name: "detail", type: "bool", def: "false", usage: "Show permissions of roles granted to the user" }],
      async run({ args, flags, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "user get command requires user name as its argument");
        const name = args[0]!;
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.userGet, { name }, { ...dl(), idempotent: true }));
        if (flags.bool("detail")) {
          outln(`User: ${name}`);
          for (const role of r.roles) {
            outln("");
            const rr = await callOrFail(g, () => c.call(Auth.method.roleGet, { role }, { ...dl(), idempotent: true }));
            g.display().roleGet(role, rr, AuthRoleGetResponseSchema);
          }
          return;
        }
        g.display().userGet(name, r, AuthUserGetResponseSchema);
      },
    },
    {
      name: "list",
      use: "list",
      short: "Lists all users",
      async run({ args, g }) {
        if (args.length !== 0) fail(Exit.BadArgs, "user list command requires no arguments");
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.userList, {}, { ...dl(), idempotent: true }));
        g.display().userList(r, AuthUserListResponseSchema);
      },
    },
    {
      name: "passwd",
      use: "passwd <user name> [options]",
      short: "Changes password of user",
      flags: [{ name: "interactive", type: "bool", def: "true", usage: "If true, read password from stdin instead of interactive terminal" }],
      async run({ args, flags, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "user passwd command requires user name as its argument");
        const password = flags.bool("interactive") ? await passwordInteractive(args[0]!) : await passwordFromStdin();
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.userChangePassword, { name: args[0]!, password }, dl()));
        g.display().authSimple("Password updated", r, AuthUserChangePasswordResponseSchema);
      },
    },
    {
      name: "grant-role",
      use: "grant-role <user name> <role name>",
      short: "Grants a role to a user",
      async run({ args, g }) {
        if (args.length !== 2) fail(Exit.BadArgs, "user grant command requires user name and role name as its argument");
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.userGrantRole, { user: args[0]!, role: args[1]! }, dl()));
        g.display().authSimple(`Role ${args[1]} is granted to user ${args[0]}`, r, AuthUserGrantRoleResponseSchema);
      },
    },
    {
      name: "revoke-role",
      use: "revoke-role <user name> <role name>",
      short: "Revokes a role from a user",
      async run({ args, g }) {
        if (args.length !== 2) fail(Exit.BadArgs, "user revoke-role requires user name and role name as its argument");
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.userRevokeRole, { name: args[0]!, role: args[1]! }, dl()));
        g.display().authSimple(`Role ${args[1]} is revoked from user ${args[0]}`, r, AuthUserRevokeRoleResponseSchema);
      },
    },
  ],
};

const PERM_FLAGS = (verb: string) => [
  { name: "prefix", type: "bool" as const, def: "false", usage: `${verb} a prefix permission` },
  { name: "from-key", type: "bool" as const, def: "false", usage: `${verb} a permission of keys that are greater than or equal to the given key using byte compare` },
];

function permRange(args: string[], f: FlagSet): [string, string] {
  const prefix = f.bool("prefix");
  const fromKey = f.bool("from-key");
  let key = args[0]!;
  let end = "";
  if (key.length === 0) {
    if (prefix && fromKey) fail(Exit.BadArgs, "--from-key and --prefix flags are mutually exclusive");
    key = "\x00";
    if (prefix || fromKey) end = "\x00";
    return [key, end];
  }
  if (args.length === 1) {
    if (prefix) {
      if (fromKey) fail(Exit.BadArgs, "--from-key and --prefix flags are mutually exclusive");
      return [key, new TextDecoder("latin1").decode(prefixEnd(bytes(key)))];
    }
    if (fromKey) return [key, "\x00"];
    return [key, ""];
  }
  if (prefix) fail(Exit.BadArgs, "unexpected endkey argument with --prefix flag");
  if (fromKey) fail(Exit.BadArgs, "unexpected endkey argument with --from-key flag");
  return [key, args[1]!];
}

function latin1OrUtf8(s: string): Uint8Array {
  // prefixEnd results are byte strings (latin1); user-given keys are UTF-8.
  return /^[\x00-\xff]*$/.test(s) && /[\x80-\xff]/.test(s) ? Uint8Array.from(s, (ch) => ch.charCodeAt(0)) : bytes(s);
}

export const roleCommand: Command = {
  name: "role",
  use: "role <subcommand>",
  short: "Role related commands",
  sub: [
    {
      name: "add",
      use: "add <role name>",
      short: "Adds a new role",
      async run({ args, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "role add command requires role name as its argument");
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.roleAdd, { name: args[0]! }, dl()));
        g.display().authSimple(`Role ${args[0]} created`, r, AuthRoleAddResponseSchema);
      },
    },
    {
      name: "delete",
      use: "delete <role name>",
      short: "Deletes a role",
      async run({ args, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "role delete command requires role name as its argument");
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.roleDelete, { role: args[0]! }, dl()));
        g.display().authSimple(`Role ${args[0]} deleted`, r, AuthRoleDeleteResponseSchema);
      },
    },
    {
      name: "get",
      use: "get <role name>",
      short: "Gets detailed information of a role",
      async run({ args, g }) {
        if (args.length !== 1) fail(Exit.BadArgs, "role get command requires role name as its argument");
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.roleGet, { role: args[0]! }, { ...dl(), idempotent: true }));
        g.display().roleGet(args[0]!, r, AuthRoleGetResponseSchema);
      },
    },
    {
      name: "list",
      use: "list",
      short: "Lists all roles",
      async run({ args, g }) {
        if (args.length !== 0) fail(Exit.BadArgs, "role list command requires no arguments");
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.roleList, {}, { ...dl(), idempotent: true }));
        g.display().roleList(r, AuthRoleListResponseSchema);
      },
    },
    {
      name: "grant-permission",
      use: "grant-permission [options] <role name> <permission type> <key> [endkey]",
      short: "Grants a key to a role",
      flags: PERM_FLAGS("grant"),
      async run({ args, flags, g }) {
        if (args.length < 3) fail(Exit.BadArgs, "role grant command requires role name, permission type, and key [endkey] as its argument");
        const types: Record<string, Permission_Type> = { READ: Permission_Type.READ, WRITE: Permission_Type.WRITE, READWRITE: Permission_Type.READWRITE };
        const t = types[args[1]!.toUpperCase()];
        if (t === undefined) fail(Exit.BadArgs, `invalid permission type: ${args[1]}`);
        const [key, end] = permRange(args.slice(2), flags);
        const c = await client(g);
        const r = await callOrFail(g, () =>
          c.call(Auth.method.roleGrantPermission, { name: args[0]!, perm: { permType: t, key: latin1OrUtf8(key), rangeEnd: latin1OrUtf8(end) } }, dl()),
        );
        g.display().authSimple(`Role ${args[0]} updated`, r, AuthRoleGrantPermissionResponseSchema);
      },
    },
    {
      name: "revoke-permission",
      use: "revoke-permission <role name> <key> [endkey]",
      short: "Revokes a key from a role",
      flags: PERM_FLAGS("revoke"),
      async run({ args, flags, g }) {
        if (args.length < 2) fail(Exit.BadArgs, "role revoke-permission command requires role name and key [endkey] as its argument");
        const [key, end] = permRange(args.slice(1), flags);
        const c = await client(g);
        const r = await callOrFail(g, () => c.call(Auth.method.roleRevokePermission, { role: args[0]!, key: latin1OrUtf8(key), rangeEnd: latin1OrUtf8(end) }, dl()));
        const role = args[0]!;
        const k = args[1]!;
        const line = end.length === 0
          ? `Permission of key ${k} is revoked from role ${role}`
          : end !== "\x00"
            ? `Permission of range [${k}, ${end}) is revoked from role ${role}`
            : `Permission of range [${k}, <open ended> is revoked from role ${role}`;
        g.display().authSimple(line, r, AuthRoleRevokePermissionResponseSchema);
      },
    },
  ],
};
