// A node of the v2 tree: a file (value) or a directory (children), with the indexes of its
// creation and last modification and an optional expiry time (etcd's v2store node).
import { baseName } from "./path.ts";

/** Expiry of a permanent node. */
export const PERMANENT = 0;

export class V2Node {
  /** Position in the TTL heap (-1 when not in it). Invariant: ≥ 0 iff expireTime ≠ PERMANENT and attached. */
  heapIndex = -1;

  constructor(
    /** Full store path, e.g. "/1/foo/bar" ("/" for the root). */
    readonly path: string,
    public createdIndex: number,
    public modifiedIndex: number,
    public parent: V2Node | undefined,
    /** Unix ms at which the node expires; PERMANENT (0) for none. */
    public expireTime: number,
    public value: string,
    /** Children by name; defined exactly for directories. */
    readonly children: Map<string, V2Node> | undefined,
  ) {}

  static file(path: string, value: string, index: number, parent: V2Node | undefined, expireTime: number): V2Node {
    return new V2Node(path, index, index, parent, expireTime, value, undefined);
  }

  static dir(path: string, index: number, parent: V2Node | undefined, expireTime: number): V2Node {
    return new V2Node(path, index, index, parent, expireTime, "", new Map());
  }

  get isDir(): boolean {
    return this.children !== undefined;
  }

  get isPermanent(): boolean {
    return this.expireTime === PERMANENT;
  }

  /** Names starting with "_" are left out of listings and parents' recursive watches. */
  get isHidden(): boolean {
    return baseName(this.path).startsWith("_");
  }

  get name(): string {
    return baseName(this.path);
  }

  /**
   * etcd's Compare: an empty prevValue and a zero prevIndex match anything.
   * Returns which part failed ("" when both match).
   */
  compare(prevValue: string, prevIndex: number): "" | "index" | "value" | "both" {
    const indexMatch = prevIndex === 0 || this.modifiedIndex === prevIndex;
    const valueMatch = prevValue === "" || this.value === prevValue;
    if (indexMatch && valueMatch) return "";
    if (indexMatch) return "value";
    if (valueMatch) return "index";
    return "both";
  }

  /**
   * Remaining seconds as etcd reports them: ceil((expire - now) / 1 s); 0 for permanent nodes.
   */
  ttl(now: number): number {
    if (this.isPermanent) return 0;
    return Math.ceil((this.expireTime - now) / 1000);
  }
}
