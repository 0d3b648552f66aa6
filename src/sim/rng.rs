//! Seeded randomness that gives the same numbers on every platform.
//!
//! One ChaCha8 generator per component (service operation, parameter, …), all derived from the
//! scenario's seed and the component's index as ChaCha *streams*, so adding a component does not
//! shift the numbers another one draws. Two traps are avoided on purpose: `usize` ranges (drawn
//! from 32 bits on wasm32 and 64 bits on x86_64) and the platform's `ln`/`powf` (the browser's
//! and glibc's may differ in the last bit); `libm` computes the same bits everywhere.

use crate::sim::clock::Micros;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A component's random number generator.
#[derive(Debug, Clone)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// The generator for component number `stream` of a run seeded with `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Self(rng)
    }

    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0.gen::<f64>()
    }

    /// A uniform integer in `lo..=hi` (`lo` if the range is empty).
    pub fn int_in(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.0.gen_range(lo..=hi)
        }
    }

    /// A uniform index in `0..n` (0 if `n` is 0).
    pub fn index(&mut self, n: usize) -> usize {
        let n = u64::try_from(n).unwrap_or(u64::MAX).max(1);
        usize::try_from(self.0.gen_range(0..n)).unwrap_or(0)
    }

    /// The time to the next arrival of a Poisson process with `rate_per_s` arrivals per second
    /// (exponentially distributed), at least 1 µs.
    pub fn exponential_gap(&mut self, rate_per_s: f64) -> Micros {
        if rate_per_s <= 0.0 {
            return Micros::MAX;
        }
        let u = self.unit();
        let seconds = -libm::log(1.0 - u) / rate_per_s;
        let micros = (seconds * 1e6).round();
        if micros >= 1e15 {
            Micros::MAX
        } else {
            (micros as Micros).max(1)
        }
    }
}

/// Zipf-distributed ranks 1..=n: rank k is drawn with probability ∝ 1/k^exponent, so a few hot
/// keys get most of the traffic.
#[derive(Debug, Clone)]
pub struct Zipf {
    /// The cumulative distribution, never changed once made: shared by the copies a checkpoint
    /// makes (n keys take 8·n bytes: 160 KB for 20,000).
    cumulative: std::rc::Rc<[f64]>,
}

impl Zipf {
    /// The distribution over `1..=n` (n at least 1) with the given exponent.
    pub fn new(n: u64, exponent: f64) -> Self {
        let n = n.clamp(1, 1_000_000);
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|k| {
                total += 1.0 / libm::pow(k as f64, exponent);
                total
            })
            .collect::<Vec<_>>();
        Self {
            cumulative: cumulative.iter().map(|c| c / total).collect(),
        }
    }

    /// Draws a rank in `1..=n`.
    pub fn sample(&self, rng: &mut SimRng) -> u64 {
        let u = rng.unit();
        let index = self.cumulative.partition_point(|&c| c < u);
        u64::try_from(index.min(self.cumulative.len() - 1)).unwrap_or(0) + 1
    }
}

/// The random streams of a run's parts that are not services' operations (those use
/// `service << 40 | operation << 20 | slot`, far below these), one constant each so that no
/// two parts ever share a stream.
pub mod streams {
    /// The fault schedule ([`crate::sim::faults`]).
    pub const FAULTS: u64 = u64::MAX - 16;
    /// The dual-write publishers ([`crate::sim::dual_write`]): this one minus the connector's
    /// index, for at most [`PUBLISHERS_MAX`] of them.
    pub const PUBLISHERS: u64 = u64::MAX - 32;
    /// How many publishers have streams of their own.
    pub const PUBLISHERS_MAX: u64 = 1 << 16;
    /// The network's links ([`crate::sim::network`]): this prefix in the top byte, a hash of
    /// the link's client in the 56 bits below — above every operation's stream, below the
    /// constants above.
    pub const LINKS: u64 = 0xFD00_0000_0000_0000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_repeatable() {
        let a: Vec<i64> = (0..5).map(|_| SimRng::new(7, 1).int_in(0, 1000)).collect();
        assert!(
            a.windows(2).all(|w| w[0] == w[1]),
            "same seed and stream, same numbers"
        );
        let mut one = SimRng::new(7, 1);
        let mut two = SimRng::new(7, 2);
        let x: Vec<i64> = (0..8).map(|_| one.int_in(0, 1_000_000)).collect();
        let y: Vec<i64> = (0..8).map(|_| two.int_in(0, 1_000_000)).collect();
        assert_ne!(x, y);
    }

    #[test]
    fn exponential_gaps_average_to_the_rate() {
        let mut rng = SimRng::new(1, 0);
        let n = 20_000;
        let total: u64 = (0..n).map(|_| rng.exponential_gap(100.0)).sum();
        let mean_ms = total as f64 / n as f64 / 1e3;
        assert!(
            (9.0..11.0).contains(&mean_ms),
            "mean gap {mean_ms} ms, expected about 10"
        );
    }

    #[test]
    fn zipf_favours_low_ranks() {
        let zipf = Zipf::new(100, 1.2);
        let mut rng = SimRng::new(3, 0);
        let draws: Vec<u64> = (0..10_000).map(|_| zipf.sample(&mut rng)).collect();
        let top = draws.iter().filter(|&&k| k <= 5).count();
        assert!(
            top > 5_000,
            "the five hottest keys got {top} of 10,000 draws"
        );
        assert!(draws.iter().all(|&k| (1..=100).contains(&k)));
    }
}
