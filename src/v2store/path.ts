// Slash-separated paths as the v2 store handles them: Go's path.Clean / path.Join / path.Split,
// which etcd applies to every key before it touches the tree.

/**
 * Go's path.Clean: one slash between names, no "." names, ".." removed together with the name
 * before it (and dropped at the root), no trailing slash; "" becomes ".", a rooted "" "/".
 */
export function clean(p: string): string {
  if (p === "") return ".";
  if (isClean(p)) return p;
  const rooted = p.startsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(part);
  }
  const s = out.join("/");
  if (rooted) return "/" + s;
  return s === "" ? "." : s;
}

/** A rooted path that clean() would return unchanged ("/" or "/a/b": no empty, "." or ".." names). */
function isClean(p: string): boolean {
  if (p === "/") return true;
  if (p.charCodeAt(0) !== 0x2f || p.charCodeAt(p.length - 1) === 0x2f) return false;
  for (let i = 0; i < p.length; i++) {
    if (p.charCodeAt(i) !== 0x2f) continue;
    // After a slash: another slash, or a "." / ".." name, makes the path unclean.
    const c1 = p.charCodeAt(i + 1);
    if (c1 === 0x2f) return false;
    if (c1 === 0x2e) {
      const c2 = p.charCodeAt(i + 2);
      if (Number.isNaN(c2) || c2 === 0x2f) return false;
      if (c2 === 0x2e) {
        const c3 = p.charCodeAt(i + 3);
        if (Number.isNaN(c3) || c3 === 0x2f) return false;
      }
    }
  }
  return true;
}

/** Go's path.Join: the non-empty parts joined by "/" and cleaned ("" when all are empty). */
export function join(...parts: string[]): string {
  const nonEmpty = parts.filter((x) => x !== "");
  return nonEmpty.length === 0 ? "" : clean(nonEmpty.join("/"));
}

/** A key as the store keeps it: rooted and cleaned (path.Clean(path.Join("/", p))). */
export function storePath(p: string): string {
  return p.startsWith("/") && isClean(p) ? p : clean("/" + p);
}

/** Go's path.Split: everything up to and including the last "/", and the rest. */
export function split(p: string): [dir: string, name: string] {
  const i = p.lastIndexOf("/");
  return [p.slice(0, i + 1), p.slice(i + 1)];
}

/** The last element of a path ("" for "/"). */
export function baseName(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}
