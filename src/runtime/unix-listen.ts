// Socket files for unix:// and unixs:// listen URLs. etcd 3.4 binds and fails with "bind:
// address already in use" while the file exists, which after a crash (the file stays) means
// the member cannot start again until someone removes it. Here a file left behind by a
// process that is gone (nothing answers on it) is removed and the socket bound anew; a socket
// something still answers on, or a file that is not a socket, keeps etcd's failure.
import { lstatSync, rmSync } from "node:fs";
import { connect } from "node:net";

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Makes `path` free to bind, or throws etcd's text when it is in use. */
export async function freeSocketPath(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket || (await answers(path))) throw new Error(`listen unix ${path}: bind: address already in use`);
  rmSync(path, { force: true });
}

/** Removes a socket file this process listened on (Go's listener does on close). */
export function removeSocketFile(path: string): void {
  try {
    if (lstatSync(path).isSocket()) rmSync(path, { force: true });
  } catch {
    // already gone
  }
}
