export { Lessor, MAX_LEASE_TTL, type Lease } from "./lessor.ts";
