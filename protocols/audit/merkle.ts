import { auditError, echo } from "./audit-errors.ts";
import { digestBytes, isSha256B64url, sha256 } from "./digest.ts";
import { AuditLimits } from "./limits.ts";

/**
 * A Merkle tree over record hashes, as RFC 6962 §2.1 (and RFC 9162 §2.1) defines it: a leaf is
 * SHA-256(0x00 ‖ the 32 bytes of a record hash), an inner node SHA-256(0x01 ‖ left ‖ right), and
 * a tree of n > 1 leaves splits at k, the largest power of two below n (left: the first k leaves).
 * The root of no leaves is SHA-256 of the empty string. Hashes go in and out as base64url.
 */

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

const leafHash = (leaf: Uint8Array): Buffer => sha256(LEAF_PREFIX, leaf);
const nodeHash = (left: Uint8Array, right: Uint8Array): Buffer => sha256(NODE_PREFIX, left, right);

/** The largest power of two strictly below n (n ≥ 2). Numbers, not bit operators: n may exceed 2^31. */
const splitPoint = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

const leavesOf = (hashes: readonly string[]): Buffer[] =>
  hashes.map((hash, i) => {
    if (!isSha256B64url(hash)) {
      throw auditError("ERR_AUDIT_MERKLE_INPUT_INVALID", "a Merkle leaf must be a base64url SHA-256 digest", {
        position: i,
        leaf: echo(hash),
      });
    }
    return leafHash(digestBytes(hash));
  });

/** MTH over the already-hashed leaves [lo, hi). */
const subtreeRoot = (leaves: readonly Buffer[], lo: number, hi: number): Buffer => {
  const n = hi - lo;
  if (n === 1) return leaves[lo] as Buffer;
  const k = splitPoint(n);
  return nodeHash(subtreeRoot(leaves, lo, lo + k), subtreeRoot(leaves, lo + k, hi));
};

/** The RFC 6962 Merkle Tree Hash of the record hashes, in base64url. */
export const merkleRoot = (hashes: readonly string[]): string => {
  if (hashes.length === 0) return sha256().toString("base64url");
  return subtreeRoot(leavesOf(hashes), 0, hashes.length).toString("base64url");
};

/**
 * The audit path of leaf `index` (RFC 6962 §2.1.1 PATH): sibling hashes from the leaf's level up
 * to the root's children. Throws ERR_AUDIT_MERKLE_INPUT_INVALID when `index` is not a leaf.
 */
export const merkleProof = (hashes: readonly string[], index: number): string[] => {
  if (!Number.isSafeInteger(index) || index < 0 || index >= hashes.length) {
    throw auditError("ERR_AUDIT_MERKLE_INPUT_INVALID", "the leaf index is outside the tree", {
      index: echo(index),
      leaves: hashes.length,
    });
  }
  const leaves = leavesOf(hashes);
  const path: Buffer[] = [];
  // Walk down from the root, collecting the sibling subtree at each split; reverse at the end.
  let lo = 0;
  let hi = hashes.length;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      path.push(subtreeRoot(leaves, lo + k, hi));
      hi = lo + k;
    } else {
      path.push(subtreeRoot(leaves, lo, lo + k));
      lo += k;
    }
  }
  return path.reverse().map((node) => node.toString("base64url"));
};

/**
 * Checks that `leaf` (a record hash) is leaf `index` of a tree of `size` leaves whose root is
 * `root`, given its audit path (RFC 9162 §2.1.3.2). Never throws: malformed input is false.
 */
export const verifyMerkleProof = (
  leaf: string,
  index: number,
  size: number,
  proof: readonly string[],
  root: string,
): boolean => {
  if (!isSha256B64url(leaf) || !isSha256B64url(root)) return false;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  if (!Array.isArray(proof) || proof.length > AuditLimits.maxProofLength || !proof.every(isSha256B64url)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash(digestBytes(leaf));
  for (const sibling of proof) {
    if (sn === 0) return false;
    const p = digestBytes(sibling);
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      // A right-edge node with no sibling at this level: climb until it has one.
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(digestBytes(root));
};

/**
 * The root of the record hashes and the audit path of every leaf (each as `merkleProof` gives it),
 * in one pass: O(n log n) hashes instead of a tree per leaf. Throws as `merkleRoot` does; n ≥ 1.
 */
export const merkleRootAndProofs = (hashes: readonly string[]): { root: string; proofs: string[][] } => {
  if (hashes.length === 0) throw auditError("ERR_AUDIT_MERKLE_INPUT_INVALID", "no leaves to prove", { leaves: 0 });
  const leaves = leavesOf(hashes);
  const paths: Buffer[][] = leaves.map(() => []);
  // siblings are appended bottom-up: the deeper subtrees are finished first
  const build = (lo: number, hi: number): Buffer => {
    if (hi - lo === 1) return leaves[lo] as Buffer;
    const k = splitPoint(hi - lo);
    const left = build(lo, lo + k);
    const right = build(lo + k, hi);
    for (let i = lo; i < lo + k; i++) paths[i]?.push(right);
    for (let i = lo + k; i < hi; i++) paths[i]?.push(left);
    return nodeHash(left, right);
  };
  const root = build(0, leaves.length);
  return { root: root.toString("base64url"), proofs: paths.map((p) => p.map((node) => node.toString("base64url"))) };
};
