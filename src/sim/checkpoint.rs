//! Checkpoints: copies of a running world kept along its timeline, so that going back in time
//! replays from the nearest one instead of from time zero.
//!
//! A checkpoint is the whole world forked ([`World::fork`]) at the first instant after each
//! [`INTERVAL`] of simulated time, with how many of the user's recorded commands it had been
//! given. Rows and change-log records are shared copy-on-write between the world and its
//! checkpoints ([`crate::sim::storage`], [`crate::sim::change_log`]), so a checkpoint costs the
//! structure around them and the rows changed since.
//!
//! Memory stays bounded by thinning with distance, the way backup rotations do: checkpoints
//! within 2 × [`DENSE`] intervals of the present, or of the furthest one kept (the end of the
//! timeline, after going back), are all kept; further away, only those on a coarser grid (every 2nd, 4th, 8th interval …, the step doubling as the distance does), so that
//! going back by a distance *d* replays about *d* / [`DENSE`] at most (28 % of *d* at worst) and
//! never more than one interval near the present or the end. A ten-minute run keeps 32.
//!
//! A checkpoint is exact: a world restored from one runs on as the original did (the same trace
//! hash; `tests/checkpoints.rs`), so where checkpoints are taken changes nothing in a run.

use crate::sim::clock::{Micros, SECOND};
use crate::sim::world::World;

/// Simulated time between checkpoints.
pub const INTERVAL: Micros = SECOND;

/// How many intervals around the newest checkpoint keep every checkpoint; beyond, the grid
/// coarsens with distance.
pub const DENSE: u64 = 4;

/// A world as it was at `at`, with the number of recorded commands it had been given.
struct Checkpoint {
    at: Micros,
    applied: usize,
    world: World,
}

impl Checkpoint {
    /// The interval it belongs to.
    fn slot(&self) -> u64 {
        self.at / INTERVAL
    }
}

/// The checkpoints of one timeline, in time order.
#[derive(Default)]
pub struct Checkpoints {
    kept: Vec<Checkpoint>,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.kept.iter().map(|c| c.at))
            .finish()
    }
}

impl Checkpoints {
    /// Whether a checkpoint is due for a world at `now`: none kept yet for its interval.
    pub fn due(&self, now: Micros) -> bool {
        let slot = now / INTERVAL;
        let position = self.kept.partition_point(|c| c.slot() < slot);
        slot > 0 && self.kept.get(position).is_none_or(|c| c.slot() != slot)
    }

    /// Keeps a copy of `world` (which has been given `applied` recorded commands), then thins
    /// the others by their distance from it or from the furthest one kept, whichever is nearer:
    /// after going back, the present is dense again, and so is the end of the timeline.
    pub fn take(&mut self, world: &World, applied: usize) {
        let checkpoint = Checkpoint {
            at: world.now(),
            applied,
            world: world.fork(),
        };
        let present = checkpoint.slot();
        let position = self.kept.partition_point(|c| c.at < checkpoint.at);
        self.kept.insert(position, checkpoint);
        let furthest = self.kept.last().map_or(present, Checkpoint::slot);
        let (kept, dropped) = std::mem::take(&mut self.kept)
            .into_iter()
            .partition(|c| keep(c.slot(), present, furthest));
        self.kept = kept;
        discard(dropped);
    }

    /// A copy of the latest world kept at or before `at`, with the commands it had been given
    /// and its time.
    pub fn restore(&self, at: Micros) -> Option<(World, usize)> {
        let position = self.kept.partition_point(|c| c.at <= at);
        let checkpoint = self.kept.get(position.checked_sub(1)?)?;
        Some((checkpoint.world.fork(), checkpoint.applied))
    }

    /// The time of the latest world kept at or before `at`.
    pub fn latest_at_or_before(&self, at: Micros) -> Option<Micros> {
        let position = self.kept.partition_point(|c| c.at <= at);
        Some(self.kept.get(position.checked_sub(1)?)?.at)
    }

    /// Drops what a new timeline no longer shares: checkpoints after `now`, and those given
    /// more than the first `applied` recorded commands (which the timeline replaced).
    pub fn fork_at(&mut self, now: Micros, applied: usize) {
        let (kept, dropped) = std::mem::take(&mut self.kept)
            .into_iter()
            .partition(|c| c.at <= now && c.applied <= applied);
        self.kept = kept;
        discard(dropped);
    }

    /// Drops them all (a new run, or new recorded commands from time zero).
    pub fn clear(&mut self) {
        discard(std::mem::take(&mut self.kept));
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Their times, in order.
    pub fn times(&self) -> impl Iterator<Item = Micros> + '_ {
        self.kept.iter().map(|c| c.at)
    }
}

/// Whether a checkpoint of `slot` stays, the present at `present` and the furthest kept at
/// `furthest`: it lies on the grid of its distance from the nearer of the two.
fn keep(slot: u64, present: u64, furthest: u64) -> bool {
    let distance = slot.abs_diff(present).min(slot.abs_diff(furthest));
    slot.is_multiple_of(step(distance))
}

/// Throws checkpoints away ([`World::discard`]).
fn discard(checkpoints: Vec<Checkpoint>) {
    for checkpoint in checkpoints {
        checkpoint.world.discard();
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The grid a checkpoint `distance` intervals away must lie on: every interval up to twice
/// [`DENSE`], then a power of two growing with the distance (about `distance / DENSE`).
fn step(distance: u64) -> u64 {
    let coarse = distance / DENSE;
    if coarse < 2 {
        1
    } else {
        1 << coarse.ilog2()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_coarsens_with_distance_and_never_skips_more_than_a_quarter_of_it() {
        assert_eq!(step(0), 1);
        assert_eq!(step(2 * DENSE - 1), 1);
        for distance in 2 * DENSE..10_000 {
            let step = step(distance);
            assert!(step.is_power_of_two());
            assert!(step <= distance / DENSE, "{distance}: {step}");
            assert!(step > distance / DENSE / 2, "{distance}: {step}");
        }
    }

    #[test]
    fn a_checkpoint_dropped_is_never_wanted_again_as_the_run_goes_on() {
        // Once a slot fails the grid at some distance, it fails at every larger distance.
        for slot in 0..300u64 {
            let mut dropped = false;
            for newest in slot..2_000 {
                let kept = slot % step(newest - slot) == 0;
                assert!(!(dropped && kept), "slot {slot} came back at {newest}");
                dropped |= !kept;
            }
        }
    }

    #[test]
    fn going_back_keeps_both_the_present_and_the_end_dense() {
        let mut kept: Vec<u64> = Vec::new();
        let take = |kept: &mut Vec<u64>, present: u64| {
            if !kept.contains(&present) {
                kept.push(present);
                kept.sort_unstable();
            }
            let furthest = *kept.last().unwrap_or(&present);
            kept.retain(|slot| keep(*slot, present, furthest));
        };
        for present in 1..=600 {
            take(&mut kept, present);
        }
        // Back to 300: replayed from the last kept at or before it, taking each second again.
        let from = kept.iter().rev().find(|k| **k <= 300).copied().unwrap_or(0);
        for present in from + 1..=300 {
            take(&mut kept, present);
        }
        for slot in (292..=300).chain(592..=600) {
            assert!(kept.contains(&slot), "{slot} dropped: {kept:?}");
        }
        assert!(kept.len() <= 2 * 34, "{kept:?}");
    }

    #[test]
    fn a_long_run_keeps_few_and_every_distance_is_covered() {
        // The slots a ten-minute run keeps, taking one per interval.
        let mut kept: Vec<u64> = Vec::new();
        for newest in 1..=600u64 {
            kept.push(newest);
            kept.retain(|slot| keep(*slot, newest, newest));
        }
        assert!(kept.len() <= 34, "{} kept: {kept:?}", kept.len());
        assert!(kept.contains(&600) && kept.contains(&599));
        // Going back from 600 to any slot s replays from the kept slot at or before it (or
        // from 0): at most one interval near the present, at most 28 % of the distance.
        for target in 1..600u64 {
            let from = kept
                .iter()
                .rev()
                .find(|k| **k <= target)
                .copied()
                .unwrap_or(0);
            let distance = 600 - target;
            assert!(
                target - from <= 1 || (target - from) * 100 <= distance * 28,
                "back to {target}: replays from {from}"
            );
        }
    }
}
