// The v2 API's error catalogue (etcd 3.4 etcdserver/api/v2error): numeric codes, their fixed
// messages and HTTP statuses. The v2 keys API answers {"errorCode","message","cause","index"}.

export const V2Code = {
  KeyNotFound: 100,
  TestFailed: 101,
  NotFile: 102,
  NoMorePeer: 103,
  NotDir: 104,
  NodeExist: 105,
  KeyIsPreserved: 106,
  RootROnly: 107,
  DirNotEmpty: 108,
  ExistingPeerAddr: 109,
  Unauthorized: 110,
  ValueRequired: 200,
  PrevValueRequired: 201,
  TTLNaN: 202,
  IndexNaN: 203,
  ValueOrTTLRequired: 204,
  TimeoutNaN: 205,
  NameRequired: 206,
  IndexOrValueRequired: 207,
  IndexValueMutex: 208,
  InvalidField: 209,
  InvalidForm: 210,
  RefreshValue: 211,
  RefreshTTLRequired: 212,
  RaftInternal: 300,
  LeaderElect: 301,
  WatcherCleared: 400,
  EventIndexCleared: 401,
  StandbyInternal: 402,
  InvalidActiveSize: 403,
  InvalidRemoveDelay: 404,
  ClientInternal: 500,
} as const;
export type V2Code = (typeof V2Code)[keyof typeof V2Code];

const messages: Record<number, string> = {
  100: "Key not found",
  101: "Compare failed",
  102: "Not a file",
  103: "Reached the max number of peers in the cluster",
  104: "Not a directory",
  105: "Key already exists",
  106: "The prefix of given key is a keyword in etcd",
  107: "Root is read only",
  108: "Directory not empty",
  109: "Peer address has existed",
  110: "The request requires user authentication",
  200: "Value is Required in POST form",
  201: "PrevValue is Required in POST form",
  202: "The given TTL in POST form is not a number",
  203: "The given index in POST form is not a number",
  204: "Value or TTL is required in POST form",
  205: "The given timeout in POST form is not a number",
  206: "Name is required in POST form",
  207: "Index or value is required",
  208: "Index and value cannot both be specified",
  209: "Invalid field",
  210: "Invalid POST form",
  211: "Value provided on refresh",
  212: "A TTL must be provided on refresh",
  300: "Raft Internal Error",
  301: "During Leader Election",
  400: "watcher is cleared due to etcd recovery",
  401: "The event in requested index is outdated and cleared",
  402: "Standby Internal Error",
  403: "Invalid active size",
  404: "Standby remove delay",
  500: "Client Internal Error",
};

const statuses: Record<number, number> = {
  100: 404,
  102: 403,
  108: 403,
  110: 401,
  101: 412,
  105: 412,
  300: 500,
  301: 500,
};

/** A v2 error as the keys API writes it (cause and index vary per answer). */
export class V2Error extends Error {
  constructor(
    readonly errorCode: V2Code,
    override readonly cause: string = "",
    readonly index: number = 0,
  ) {
    super(messages[errorCode] ?? "");
    this.name = "V2Error";
  }

  get status(): number {
    return statuses[this.errorCode] ?? 400;
  }

  /** The JSON body (Go's encoding/json field order; cause omitted when empty). */
  toJSON(): { errorCode: number; message: string; cause?: string; index: number } {
    return this.cause === ""
      ? { errorCode: this.errorCode, message: this.message, index: this.index }
      : { errorCode: this.errorCode, message: this.message, cause: this.cause, index: this.index };
  }
}

export function v2Message(code: V2Code): string {
  return messages[code] ?? "";
}
