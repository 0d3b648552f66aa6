//! A seeded random fault schedule for soak runs (`[faults]` in a scenario): which kinds of
//! fault, how often, for how long. The same seed gives the same schedule, drawn from a random
//! stream of its own, so the workload's arrivals and parameters are the same with and without
//! faults.
//!
//! Faults arrive as a Poisson process (`every` is the mean gap); each picks a kind, then a
//! target (a connector or a consumer group) uniformly, and lasts `duration`:
//!
//! - `connector_crash` — the connector crashes (what it did not flush is forgotten) and is
//!   restarted after `duration`: it re-sends what followed its last flushed offset;
//! - `consumer_crash` — a consumer crashes (its uncommitted batch is lost; its group
//!   rebalances) and rejoins after `duration`;
//! - `consumer_pause` — a consumer stops polling for `duration` (a slow consumer): lag builds
//!   up, then drains.
//!
//! Faults overlapping on one target are skipped (a crashed connector does not crash again).

use crate::sim::clock::{Micros, SimDuration};
use crate::sim::rng::SimRng;
use crate::sim::world::Command;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::sim::rng::streams::FAULTS as STREAM;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A connector crashes and restarts.
    ConnectorCrash,
    /// A consumer crashes and rejoins its group.
    ConsumerCrash,
    /// A consumer stops polling for a while.
    ConsumerPause,
    /// The broker is down for a while: nothing is produced or fetched.
    BrokerOutage,
    /// A consumer takes 5 ms more per message for a while.
    ConsumerSlow,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::ConnectorCrash,
        Self::ConsumerCrash,
        Self::ConsumerPause,
        Self::BrokerOutage,
        Self::ConsumerSlow,
    ];

    /// The kinds a schedule draws from unless `kinds` says otherwise: crashes and pauses (the
    /// soak figures in the README were measured with these).
    pub const DEFAULT: [Self; 3] = [
        Self::ConnectorCrash,
        Self::ConsumerCrash,
        Self::ConsumerPause,
    ];
}

/// The schedule's settings (`[faults]`); every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FaultSpec {
    /// The kinds to draw from (default: the connector and consumer crashes and consumer pauses).
    pub kinds: Vec<FaultKind>,
    /// The mean time between two faults.
    pub every: SimDuration,
    /// How long a fault lasts (a crashed part restarts after it).
    pub duration: SimDuration,
    /// No fault starts after this time (default: the scenario's duration).
    pub until: Option<SimDuration>,
}

impl Default for FaultSpec {
    fn default() -> Self {
        Self {
            kinds: FaultKind::DEFAULT.to_vec(),
            every: SimDuration(5_000_000),
            duration: SimDuration(2_000_000),
            until: None,
        }
    }
}

/// What faults can hit in a world: its connectors and consumer groups, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Connector names.
    pub connectors: Vec<String>,
    /// Consumer group names.
    pub groups: Vec<String>,
}

/// A fault schedule: commands and when to apply them, in time order.
pub type Schedule = Vec<(Micros, Command)>;

/// Draws the schedule of `spec` for a run seeded `seed`, up to `until` (the spec's own `until`
/// if it is sooner).
pub fn schedule(spec: &FaultSpec, seed: u64, targets: &Targets, until: Micros) -> Schedule {
    let until = spec.until.map_or(until, |u| u.micros().min(until));
    let kinds: Vec<FaultKind> = spec
        .kinds
        .iter()
        .copied()
        .filter(|kind| match kind {
            FaultKind::ConnectorCrash => !targets.connectors.is_empty(),
            FaultKind::ConsumerCrash | FaultKind::ConsumerPause | FaultKind::ConsumerSlow => {
                !targets.groups.is_empty()
            }
            FaultKind::BrokerOutage => !targets.connectors.is_empty(),
        })
        .collect();
    let mut commands = Vec::new();
    if kinds.is_empty() || spec.every.micros() == 0 {
        return commands;
    }
    let mut rng = SimRng::new(seed, STREAM);
    let rate = 1e6 / spec.every.micros() as f64;
    let duration = spec.duration.micros().max(1);
    // When each target is busy until (a fault still going on).
    let mut busy: Vec<(String, Micros)> = Vec::new();
    let mut at: Micros = 0;
    loop {
        at = at.saturating_add(rng.exponential_gap(rate));
        if at >= until {
            break;
        }
        let kind = kinds[rng.index(kinds.len())];
        let (name, start, end) = match kind {
            FaultKind::ConnectorCrash => {
                let connector = targets.connectors[rng.index(targets.connectors.len())].clone();
                (
                    connector.clone(),
                    Command::CrashConnector {
                        connector: connector.clone(),
                    },
                    Some(Command::StartConnector { connector }),
                )
            }
            FaultKind::BrokerOutage => (
                "(broker)".to_owned(),
                Command::BrokerOutage {
                    duration_ms: duration as f64 / 1e3,
                },
                // Over by itself: no command ends it.
                None,
            ),
            FaultKind::ConsumerSlow => {
                let group = targets.groups[rng.index(targets.groups.len())].clone();
                (
                    group.clone(),
                    Command::SlowConsumer {
                        group: group.clone(),
                        per_message_ms: 5.0,
                    },
                    Some(Command::SlowConsumer {
                        group,
                        per_message_ms: 0.0,
                    }),
                )
            }
            FaultKind::ConsumerCrash | FaultKind::ConsumerPause => {
                let group = targets.groups[rng.index(targets.groups.len())].clone();
                let start = if kind == FaultKind::ConsumerCrash {
                    Command::CrashConsumer {
                        group: group.clone(),
                    }
                } else {
                    Command::PauseConsumer {
                        group: group.clone(),
                    }
                };
                (
                    group.clone(),
                    start,
                    Some(Command::ResumeConsumer { group }),
                )
            }
        };
        if busy.iter().any(|(n, until)| *n == name && *until > at) {
            continue;
        }
        busy.retain(|(n, _)| *n != name);
        let end_at = at.saturating_add(duration);
        busy.push((name, end_at));
        commands.push((at, start));
        if let Some(end) = end {
            commands.push((end_at, end));
        }
    }
    commands.sort_by_key(|(at, _)| *at);
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Targets {
        Targets {
            connectors: vec!["orders-connector".into()],
            groups: vec!["billing".into(), "reporting".into()],
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
        let spec = FaultSpec::default();
        let a = schedule(&spec, 7, &targets(), 60_000_000);
        assert_eq!(a, schedule(&spec, 7, &targets(), 60_000_000));
        assert_ne!(a, schedule(&spec, 8, &targets(), 60_000_000));
        // About one fault per 5 s over a minute, each a start and an end.
        assert!((8..=50).contains(&a.len()), "{} commands", a.len());
        assert!(a.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
    }

    #[test]
    fn every_fault_ends_and_a_target_is_never_hit_twice_at_once() {
        let spec = FaultSpec {
            every: SimDuration(500_000),
            ..FaultSpec::default()
        };
        let commands = schedule(&spec, 3, &targets(), 30_000_000);
        let mut down: Vec<String> = Vec::new();
        for (_, command) in &commands {
            match command {
                Command::CrashConnector { connector } => {
                    assert!(!down.contains(connector), "{connector} crashed twice");
                    down.push(connector.clone());
                }
                Command::CrashConsumer { group } | Command::PauseConsumer { group } => {
                    assert!(!down.contains(group), "{group} hit twice");
                    down.push(group.clone());
                }
                Command::StartConnector { connector } => down.retain(|d| d != connector),
                Command::ResumeConsumer { group } => down.retain(|d| d != group),
                other => panic!("not a fault: {other:?}"),
            }
        }
        assert!(down.is_empty(), "still down at the end: {down:?}");
    }

    #[test]
    fn kinds_without_targets_are_left_out() {
        let spec = FaultSpec::default();
        let only_groups = Targets {
            connectors: Vec::new(),
            groups: vec!["billing".into()],
        };
        let commands = schedule(&spec, 1, &only_groups, 60_000_000);
        assert!(!commands.is_empty());
        assert!(commands
            .iter()
            .all(|(_, c)| !matches!(c, Command::CrashConnector { .. })));
        assert!(schedule(&spec, 1, &Targets::default(), 60_000_000).is_empty());
    }
}
