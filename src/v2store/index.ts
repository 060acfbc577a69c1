// The v2 store (etcd 3.4's v2store): a pure tree of directories and files with TTLs, the event
// window and the watcher hub, plus its rows in the state file.
export { V2Store, MIN_EXPIRE_TIME, type Change, type TtlOptions, type V2StoreOptions } from "./store.ts";
export { V2Watcher, WatcherHub, WATCHER_BUFFER } from "./watcher-hub.ts";
export { HISTORY_CAPACITY } from "./event-history.ts";
export { Action, eventJson, goString, isCreated, nodeJson, rfc3339Nano, type NodeExtern, type V2Event } from "./event.ts";
export { PERMANENT } from "./node.ts";
export { changeStatements, loadStore, LOAD_QUERIES } from "./persist.ts";
export { clean, join, storePath } from "./path.ts";
