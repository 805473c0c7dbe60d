//! RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.
//!
//! Leaf hash = SHA-256(0x00 ‖ entry), node hash = SHA-256(0x01 ‖ left ‖ right), split at the largest
//! power of two below n. Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2, so a third party
//! needs only a checkpoint (size, root) and the proof.

use sha2::{Digest as _, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Hash of an entry.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// Hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// Root of a tree given its leaf hashes (SHA-256 of nothing for the empty tree).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            // Recursion depth is log2(n): no risk of stack exhaustion.
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// Audit path for leaf `index` in the tree of the first `size` leaves.
pub fn inclusion_proof(leaves: &[Hash], index: usize, size: usize) -> Option<Vec<Hash>> {
    if index >= size || size > leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    path(index, &leaves[..size], &mut out);
    Some(out)
}

fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
    let n = d.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &d[..k], out);
        out.push(root(&d[k..]));
    } else {
        path(m - k, &d[k..], out);
        out.push(root(&d[..k]));
    }
}

/// Consistency proof from the tree of the first `old` leaves to that of the first `new`.
pub fn consistency_proof(leaves: &[Hash], old: usize, new: usize) -> Option<Vec<Hash>> {
    if old > new || new > leaves.len() {
        return None;
    }
    let mut out = Vec::new();
    if old > 0 && old < new {
        subproof(old, &leaves[..new], true, &mut out);
    }
    Some(out)
}

fn subproof(m: usize, d: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !complete {
            out.push(root(d));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &d[..k], complete, out);
        out.push(root(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, out);
        out.push(root(&d[..k]));
    }
}

/// RFC 9162 §2.1.3.2: does `proof` show `leaf` at `index` in the tree of `size` with `root`?
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root_hash: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root_hash
}

/// RFC 9162 §2.1.4.2: does `proof` show the tree (`old`, `old_root`) is a prefix of
/// (`new`, `new_root`)? The empty tree is a prefix of every tree (with an empty proof).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        return proof.is_empty() && *old_root == <Hash>::from(Sha256::digest([]));
    }
    if proof.is_empty() {
        return false;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *old_root && sr == *new_root && snode == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Hash {
        crate::unhex(s).unwrap().try_into().unwrap()
    }

    /// The Certificate Transparency reference data (RFC 6962 test vectors, as published with the
    /// CT and transparency-dev/merkle test suites).
    fn vectors() -> (Vec<Hash>, Vec<Hash>) {
        let entries = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ];
        let leaves = entries
            .iter()
            .map(|e| leaf_hash(&crate::unhex(e).unwrap()))
            .collect();
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ]
        .iter()
        .map(|s| h(s))
        .collect();
        (leaves, roots)
    }

    #[test]
    fn rfc6962_roots() {
        let (leaves, roots) = vectors();
        assert_eq!(
            crate::hex(&root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        for n in 1..=8 {
            assert_eq!(root(&leaves[..n]), roots[n - 1], "size {n}");
        }
    }

    #[test]
    fn rfc6962_inclusion_vectors() {
        let (leaves, roots) = vectors();
        let cases = [
            (
                0,
                8,
                vec![
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                vec![
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (i, n, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(inclusion_proof(&leaves, i, n).unwrap(), want);
            assert!(verify_inclusion(
                &leaves[i],
                i as u64,
                n as u64,
                &want,
                &roots[n - 1]
            ));
        }
    }

    #[test]
    fn rfc6962_consistency_vectors() {
        let (leaves, roots) = vectors();
        let cases = [
            (
                2,
                8,
                vec![
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                vec![
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                vec![
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (m, n, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(consistency_proof(&leaves, m, n).unwrap(), want, "{m}->{n}");
            assert!(verify_consistency(
                m as u64,
                n as u64,
                &roots[m - 1],
                &roots[n - 1],
                &want
            ));
        }
        // Degenerate cases.
        assert!(verify_consistency(4, 4, &roots[3], &roots[3], &[]));
        assert!(!verify_consistency(4, 4, &roots[3], &roots[4], &[]));
        assert!(!verify_consistency(6, 8, &roots[5], &roots[7], &[]));
        assert!(!verify_consistency(8, 6, &roots[7], &roots[5], &[]));
    }

    fn tree(n: usize, seed: u8) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&[seed, (i & 0xff) as u8, (i >> 8) as u8]))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn every_inclusion_proof_verifies_and_any_mutation_fails(n in 1usize..300, seed: u8, pick: usize, flip: usize) {
            let leaves = tree(n, seed);
            let r = root(&leaves);
            let i = pick % n;
            let p = inclusion_proof(&leaves, i, n).unwrap();
            prop_assert!(verify_inclusion(&leaves[i], i as u64, n as u64, &p, &r));
            if !p.is_empty() {
                let mut bad = p.clone();
                let j = flip % bad.len();
                bad[j][flip % 32] ^= 1 << (flip % 8);
                prop_assert!(!verify_inclusion(&leaves[i], i as u64, n as u64, &bad, &r));
                prop_assert!(!verify_inclusion(&leaves[i], i as u64, n as u64, &p[..p.len() - 1], &r));
            }
            let mut ext = p.clone();
            ext.push([0xab; 32]);
            prop_assert!(!verify_inclusion(&leaves[i], i as u64, n as u64, &ext, &r));
            if n > 1 {
                let other = (i + 1) % n;
                prop_assert!(!verify_inclusion(&leaves[other], i as u64, n as u64, &p, &r));
            }
        }

        #[test]
        fn every_consistency_proof_verifies_and_any_mutation_fails(n in 1usize..300, seed: u8, pick: usize, flip: usize) {
            let leaves = tree(n, seed);
            let m = pick % n + 1;
            let (r1, r2) = (root(&leaves[..m]), root(&leaves));
            let p = consistency_proof(&leaves, m, n).unwrap();
            prop_assert!(verify_consistency(m as u64, n as u64, &r1, &r2, &p));
            if !p.is_empty() {
                let mut bad = p.clone();
                let j = flip % bad.len();
                bad[j][flip % 32] ^= 1 << (flip % 8);
                prop_assert!(!verify_consistency(m as u64, n as u64, &r1, &r2, &bad));
                prop_assert!(!verify_consistency(m as u64, n as u64, &r1, &r2, &p[..p.len() - 1]));
                // A rewritten history (different old tree) is not consistent.
                let rewritten = root(&tree(m, seed.wrapping_add(1)));
                prop_assert!(!verify_consistency(m as u64, n as u64, &rewritten, &r2, &p));
            }
        }
    }
}
