// The catalogue moved to src/rpctypes (the one home of etcd's errors); this re-export keeps
// older imports compiling. New code imports src/rpctypes/index.ts.
export { Code, EtcdError, Errors, isEtcdError } from "../rpctypes/index.ts";
