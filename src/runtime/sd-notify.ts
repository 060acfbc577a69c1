// systemd's readiness protocol (sd_notify(3)): with Type=notify, systemd passes the path of a
// unix datagram socket in $NOTIFY_SOCKET and waits for "READY=1" before it considers the
// service started; "STOPPING=1" says the service is shutting down. etcd sends READY=1 once it
// serves client requests, so unit files written for etcd work unchanged.
//
// Neither node:dgram nor node:net can send a unix datagram, so on Bun the message goes through
// libc (bun:ffi: socket, sendto, close). Elsewhere, or when libc cannot be loaded, the notifier
// reports why it cannot notify and the caller logs it once.

export interface Notifier {
  /** Sends one state string ("READY=1", "STOPPING=1"); never throws. False when it failed. */
  notify(state: string): boolean;
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sockaddr_un.sun_path) on Linux. */
const SUN_PATH_MAX = 108;
const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"];

/**
 * The sockaddr_un for $NOTIFY_SOCKET: a filesystem path, or an abstract socket when it starts
 * with "@" (a leading NUL, no terminator counted). Undefined when the path does not fit.
 */
export function socketAddress(path: string): { addr: Uint8Array; len: number } | undefined {
  const bytes = new TextEncoder().encode(path);
  const abstract = bytes[0] === 0x40; // "@"
  if (bytes.length === 0 || bytes.length >= SUN_PATH_MAX) return undefined;
  const addr = new Uint8Array(2 + SUN_PATH_MAX);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(bytes, 2);
  if (abstract) addr[2] = 0;
  return { addr, len: 2 + bytes.length + (abstract ? 0 : 1) };
}

/**
 * A notifier for `env.NOTIFY_SOCKET`, undefined when it is not set (not started by systemd).
 * Throws with the reason when it is set but this runtime cannot send to it.
 */
export async function createNotifier(env: Readonly<Record<string, string | undefined>>): Promise<Notifier | undefined> {
  const path = env.NOTIFY_SOCKET;
  if (path === undefined || path === "") return undefined;
  const target = socketAddress(path);
  if (target === undefined) throw new Error(`NOTIFY_SOCKET ${JSON.stringify(path)} is not a usable unix socket path`);
  if (typeof (globalThis as { Bun?: unknown }).Bun === "undefined") {
    throw new Error("this runtime cannot send unix datagrams (systemd notification needs the Bun build)");
  }
  const ffi = await import("bun:ffi");
  const { FFIType, dlopen, ptr } = ffi;
  const symbols = {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  } as const;
  let lib: ReturnType<typeof dlopen<typeof symbols>> | undefined;
  let lastError: unknown;
  for (const name of LIBC_NAMES) {
    try {
      lib = dlopen(name, symbols);
      break;
    } catch (e) {
      lastError = e;
    }
  }
  if (lib === undefined) throw new Error(`cannot load libc to notify systemd: ${String(lastError)}`);
  const libc = lib.symbols;
  return {
    notify(state: string): boolean {
      const msg = new TextEncoder().encode(state);
      const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return false;
      try {
        const sent = libc.sendto(fd, ptr(msg), msg.length, MSG_NOSIGNAL, ptr(target.addr), target.len);
        return Number(sent) === msg.length;
      } finally {
        libc.close(fd);
      }
    },
  };
}
