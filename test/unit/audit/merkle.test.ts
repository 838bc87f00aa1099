import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { merkleProof, merkleRoot, merkleRootAndProofs, verifyMerkleProof } from "../../../protocols/index.ts";
import { expectAuditError, fakeDigest, seeded } from "./fixtures.ts";

const sha = (...parts: Buffer[]): Buffer => createHash("sha256").update(Buffer.concat(parts)).digest();
const bytes = (b64: string): Buffer => Buffer.from(b64, "base64url");
const leaf = (hash: string): Buffer => sha(Buffer.of(0), bytes(hash));
const node = (left: Buffer, right: Buffer): Buffer => sha(Buffer.of(1), left, right);

/** RFC 6962 §2.1 MTH written straight from the definition, as an independent reference. */
const referenceRoot = (hashes: readonly string[]): Buffer => {
  if (hashes.length === 0) return sha();
  if (hashes.length === 1) return leaf(hashes[0] as string);
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return node(referenceRoot(hashes.slice(0, k)), referenceRoot(hashes.slice(k)));
};

const random = seeded(6962);
const hashes = Array.from({ length: 40 }, () => fakeDigest(random));
const first = (n: number): string[] => hashes.slice(0, n);

describe("merkleRoot", () => {
  it("is SHA-256 of the empty string for no leaves", () => {
    expect(merkleRoot([])).toBe("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
  });

  it("prefixes leaves with 0x00 and inner nodes with 0x01", () => {
    const [a, b, c] = first(3) as [string, string, string];
    expect(merkleRoot([a])).toBe(leaf(a).toString("base64url"));
    expect(merkleRoot([a, b])).toBe(node(leaf(a), leaf(b)).toString("base64url"));
    expect(merkleRoot([a, b, c])).toBe(node(node(leaf(a), leaf(b)), leaf(c)).toString("base64url"));
  });

  it("splits an unbalanced tree at the largest power of two below its size", () => {
    const [a, b, c, d, e] = first(5) as [string, string, string, string, string];
    const left = node(node(leaf(a), leaf(b)), node(leaf(c), leaf(d)));
    expect(merkleRoot([a, b, c, d, e])).toBe(node(left, leaf(e)).toString("base64url"));
  });

  it("matches the RFC 6962 definition for every size from 1 to 40", () => {
    for (let n = 1; n <= 40; n += 1) expect(merkleRoot(first(n))).toBe(referenceRoot(first(n)).toString("base64url"));
  });

  it("refuses a leaf that is not a base64url SHA-256 digest", () => {
    expectAuditError(() => merkleRoot(["not-a-hash"]), "ERR_AUDIT_MERKLE_INPUT_INVALID");
    // 43 characters whose last one carries bits a 32-byte value cannot have
    expectAuditError(() => merkleRoot(["A".repeat(42) + "B"]), "ERR_AUDIT_MERKLE_INPUT_INVALID");
  });
});

describe("merkleProof", () => {
  it("gives a path that verifies for every leaf of every size from 1 to 40", () => {
    for (let n = 1; n <= 40; n += 1) {
      const root = merkleRoot(first(n));
      for (let i = 0; i < n; i += 1) {
        const proof = merkleProof(first(n), i);
        expect(verifyMerkleProof(hashes[i] as string, i, n, proof, root), `leaf ${i} of ${n}`).toBe(true);
      }
    }
  });

  it("is empty for a single leaf and has one sibling per level otherwise", () => {
    expect(merkleProof(first(1), 0)).toEqual([]);
    expect(merkleProof(first(8), 3)).toHaveLength(3);
    // in a tree of 5 the last leaf hangs right under the root
    expect(merkleProof(first(5), 4)).toHaveLength(1);
  });

  it("refuses an index outside the tree", () => {
    expectAuditError(() => merkleProof(first(4), 4), "ERR_AUDIT_MERKLE_INPUT_INVALID");
    expectAuditError(() => merkleProof(first(4), -1), "ERR_AUDIT_MERKLE_INPUT_INVALID");
    expectAuditError(() => merkleProof([], 0), "ERR_AUDIT_MERKLE_INPUT_INVALID");
  });
});

describe("verifyMerkleProof", () => {
  const n = 13;
  const root = merkleRoot(first(n));
  const proof = merkleProof(first(n), 6);
  const leaf6 = hashes[6] as string;

  it("accepts the right leaf, index, size, path and root", () => {
    expect(verifyMerkleProof(leaf6, 6, n, proof, root)).toBe(true);
  });

  it("rejects another leaf, index, size or root", () => {
    expect(verifyMerkleProof(hashes[7] as string, 6, n, proof, root)).toBe(false);
    expect(verifyMerkleProof(leaf6, 7, n, proof, root)).toBe(false);
    // (sizes 9-16 give leaf 6 the same path shape, so the size is only checked through that shape)
    expect(verifyMerkleProof(leaf6, 6, 8, proof, root)).toBe(false);
    expect(verifyMerkleProof(leaf6, 6, 17, proof, root)).toBe(false);
    expect(verifyMerkleProof(leaf6, 6, n, proof, merkleRoot(first(n - 1)))).toBe(false);
  });

  it("rejects a path with an edited, missing or extra sibling", () => {
    const edited = [...proof];
    edited[1] = hashes[0] as string;
    expect(verifyMerkleProof(leaf6, 6, n, edited, root)).toBe(false);
    expect(verifyMerkleProof(leaf6, 6, n, proof.slice(0, -1), root)).toBe(false);
    expect(verifyMerkleProof(leaf6, 6, n, [...proof, hashes[0] as string], root)).toBe(false);
  });

  it("rejects malformed input without throwing", () => {
    expect(verifyMerkleProof("nope", 0, 1, [], root)).toBe(false);
    expect(verifyMerkleProof(leaf6, -1, n, proof, root)).toBe(false);
    expect(verifyMerkleProof(leaf6, 6, 6, proof, root)).toBe(false);
    expect(verifyMerkleProof(leaf6, 6, n, ["x"], root)).toBe(false);
    expect(verifyMerkleProof(leaf6, 6, n, proof, "x")).toBe(false);
    expect(verifyMerkleProof(leaf6, 6, n, Array.from({ length: 65 }, () => leaf6), root)).toBe(false);
  });
});

describe("merkleRootAndProofs", () => {
  it("gives the root and every leaf's audit path exactly as merkleRoot and merkleProof do", () => {
    for (let n = 1; n <= 17; n++) {
      const hashes = Array.from({ length: n }, (_, i) => createHash("sha256").update(`leaf-${n}-${i}`).digest("base64url"));
      const { root, proofs } = merkleRootAndProofs(hashes);
      expect(root).toBe(merkleRoot(hashes));
      expect(proofs).toEqual(hashes.map((_, i) => merkleProof(hashes, i)));
      for (const [i, proof] of proofs.entries()) expect(verifyMerkleProof(hashes[i] as string, i, n, proof, root)).toBe(true);
    }
    expect(() => merkleRootAndProofs([])).toThrow();
  });
});
