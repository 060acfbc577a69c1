import { expect, test } from "bun:test";
import { Code, DiscoveryError, DiscoveryErrors, Errors, RawErrors, rawAuthError, httpStatusFromCode, toStatus, V2ClientErrors, V2Code, V2Error } from "../../src/rpctypes/index.ts";

test("grpcText is grpc-go's error string (a watch's cancel_reason)", () => {
  expect(Errors.permissionDenied.grpcText).toBe("rpc error: code = PermissionDenied desc = etcdserver: permission denied");
  expect(Errors.invalidAuthToken.grpcText).toBe("rpc error: code = Unauthenticated desc = etcdserver: invalid auth token");
  expect(Errors.authOldRevision.grpcText).toBe("rpc error: code = InvalidArgument desc = etcdserver: revision of auth store is old");
});

test("raw auth errors are Unknown with the auth store's text", () => {
  expect(rawAuthError(Errors.permissionDenied)).toBe(RawErrors.permissionDenied);
  expect(RawErrors.permissionDenied.code).toBe(Code.Unknown);
  expect(RawErrors.permissionDenied.message).toBe("auth: permission denied");
  expect(rawAuthError(Errors.userEmpty).message).toBe("auth: user name is empty");
  expect(rawAuthError(Errors.noLeader)).toBe(Errors.noLeader);
});

test("toStatus keeps etcd errors and turns anything else into Unknown", () => {
  expect(toStatus(Errors.userEmpty)).toEqual(Errors.userEmpty);
  expect(toStatus(new Error("boom"))).toEqual({ code: Code.Unknown, message: "boom" });
  expect(toStatus("x")).toEqual({ code: Code.Unknown, message: "x" });
});

test("gateway statuses follow grpc-gateway v1", () => {
  expect(httpStatusFromCode(Code.Unauthenticated)).toBe(401);
  expect(httpStatusFromCode(Code.PermissionDenied)).toBe(403);
  expect(httpStatusFromCode(Code.FailedPrecondition)).toBe(412);
});

test("v2 errors carry etcd's messages, statuses and JSON shape", () => {
  const e = new V2Error(V2Code.KeyNotFound, "/foo", 7);
  expect(e.status).toBe(404);
  expect(JSON.stringify(e)).toBe('{"errorCode":100,"message":"Key not found","cause":"/foo","index":7}');
  expect(new V2Error(V2Code.Unauthorized, "Insufficient credentials").status).toBe(401);
  expect(new V2Error(V2Code.NodeExist).status).toBe(412);
  expect(JSON.stringify(new V2Error(V2Code.TTLNaN))).toBe('{"errorCode":202,"message":"The given TTL in POST form is not a number","index":0}');
  expect(new V2Error(V2Code.TTLNaN).status).toBe(400);
});

test("discovery errors are etcd's texts; a DiscoveryError's kind follows its text", () => {
  expect(DiscoveryErrors.fullCluster).toBe("discovery: cluster is full");
  expect(DiscoveryErrors.duplicateID).toBe("discovery: found duplicate id");
  expect(V2ClientErrors.invalidJSON).toBe("client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint.");
  expect(new DiscoveryError(DiscoveryErrors.fullCluster).kind).toBe("full");
  expect(new DiscoveryError(DiscoveryErrors.duplicateID).kind).toBe("duplicate-id");
  expect(new DiscoveryError(DiscoveryErrors.duplicateName).kind).toBe("duplicate-name");
  expect(new DiscoveryError(DiscoveryErrors.sizeNotFound).kind).toBe("other");
});
