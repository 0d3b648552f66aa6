//! Kafka's default partitioner for keyed messages: the partition is murmur2 of the serialized
//! key's bytes, made positive, modulo the number of partitions — so a key lands in the partition
//! Kafka's Java producer would put it in (`BuiltInPartitioner.partitionForKey`,
//! `Utils.murmur2`, `Utils.toPositive`).
//!
//! Messages without a key are spread by Kafka's sticky partitioner, which depends on batching and
//! timing; the simulation has none of those, so it places them round-robin instead (see
//! [`crate::sim::topic`]).

/// Kafka's 32-bit murmur2 of `data` (the Java client's `Utils.murmur2`, seed `0x9747b28c`).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    // Java computes with ints; the length enters the hash as an int too.
    let mut h: u32 = SEED ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if let Some(first) = rest.first() {
        h ^= u32::from(*first);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: the number with its sign bit cleared (not its absolute value).
pub fn to_positive(number: i32) -> u32 {
    (number & 0x7fff_ffff) as u32
}

/// The partition Kafka's default partitioner gives a message whose serialized key is `key`, in
/// a topic of `partitions` partitions (at least one).
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    to_positive(murmur2(key)) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of Kafka's own `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_gives_kafkas_results_on_kafkas_test_vectors() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (data, expected) in cases {
            assert_eq!(
                murmur2(data),
                expected,
                "murmur2({})",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn to_positive_clears_the_sign_bit_like_kafka() {
        assert_eq!(to_positive(-790_332_482), 1_357_151_166);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(5), 5);
    }

    #[test]
    fn a_key_always_lands_in_the_same_partition_within_range() {
        // toPositive(murmur2("foobar")) = 1357151166; 1357151166 % 10 = 6.
        assert_eq!(partition_for_key(b"foobar", 10), 6);
        for n in 1..20 {
            let p = partition_for_key(b"{\"id\":42}", n);
            assert!(p < n);
            assert_eq!(p, partition_for_key(b"{\"id\":42}", n));
        }
        assert_eq!(
            partition_for_key(b"x", 0),
            0,
            "no partitions: treated as one"
        );
    }
}
