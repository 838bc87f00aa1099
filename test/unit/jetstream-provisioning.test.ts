import { errors } from "@nats-io/transport-node";
import { JetStreamApiError } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { isTransientJetStreamError } from "../../runtime/internal.ts";

const apiError = (err_code: number, description: string) => new JetStreamApiError({ code: 503, err_code, description });

describe("isTransientJetStreamError", () => {
  it("retries what a starting server or a concurrent create answers", () => {
    expect(isTransientJetStreamError(new errors.TimeoutError())).toBe(true);
    expect(isTransientJetStreamError(new errors.NoRespondersError("$JS.API.STREAM.INFO.X"))).toBe(true);
    expect(isTransientJetStreamError(apiError(10008, "JetStream system temporarily unavailable"))).toBe(true);
    expect(isTransientJetStreamError(apiError(10039, "jetstream not enabled for account"))).toBe(true);
    expect(isTransientJetStreamError(apiError(10005, "no suitable peers for placement"))).toBe(true);
    // two nodes creating the same KV bucket at once: the loser may hear of the overlap before the name clash
    expect(isTransientJetStreamError(apiError(10065, "subjects overlap with an existing stream"))).toBe(true);
    expect(isTransientJetStreamError(apiError(10058, "stream name already in use with a different configuration"))).toBe(true);
    const notFound = new Error("stream not found");
    notFound.name = "StreamNotFoundError"; // a fresh cluster, about a stream another node has just created
    expect(isTransientJetStreamError(notFound)).toBe(true);
  });

  it("finds a transient failure in the cause chain", () => {
    expect(isTransientJetStreamError(new Error("request failed", { cause: new errors.TimeoutError() }))).toBe(true);
  });

  it("fails at once on configuration errors", () => {
    expect(isTransientJetStreamError(apiError(10074, "replicas > 1 not supported in non-clustered mode"))).toBe(false);
    expect(isTransientJetStreamError(apiError(10023, "insufficient resources"))).toBe(false);
    expect(isTransientJetStreamError(new Error("bucket name is not valid"))).toBe(false);
    expect(isTransientJetStreamError("timeout")).toBe(false);
  });
});
