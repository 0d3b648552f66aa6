//! The compare scorecard: one scenario and seed run in several integration modes, and per mode
//! the figures that tell the architectures apart — who writes each table, lock waits, deadlocks,
//! schema breaks, latency per service, database core use, read models' staleness, consumer lag
//! and duplicates.

use crate::sim::capture::CaptureMethod;
use crate::sim::clock::Micros;
use crate::sim::metrics::LatencySummary;
use crate::sim::modes::Mode;
use crate::sim::outbox::RelayMethod;
use crate::sim::report::Report;
use crate::sim::scenario::{Scenario, ScenarioError};
use crate::sim::world::World;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one run of a comparison is: an integration mode and, for `cdc`, a capture method other
/// than the scenario's (`cdc:query` on the command line), or for `events`, a relay
/// (`events:polling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// The mode.
    pub mode: Mode,
    /// The capture method, if not the scenario's (`cdc` only).
    pub capture: Option<CaptureMethod>,
    /// The outbox relay, if named (`events` only).
    pub relay: Option<RelayMethod>,
}

impl From<Mode> for Variant {
    fn from(mode: Mode) -> Self {
        Self {
            mode,
            capture: None,
            relay: None,
        }
    }
}

impl Variant {
    /// Its name: the mode's, then `:` and the capture method or the relay if given
    /// (`cdc:trigger`, `events:polling`).
    pub fn name(&self) -> String {
        match (self.capture, self.relay) {
            (Some(capture), _) => format!("{}:{}", self.mode.name(), capture.name()),
            (None, Some(relay)) => format!("{}:{}", self.mode.name(), relay.name()),
            (None, None) => self.mode.name().to_owned(),
        }
    }

    /// The variant a name stands for (`cdc`, `cdc:query`, `events:polling`).
    ///
    /// # Errors
    ///
    /// A [`VariantError`]: an unknown mode, method or relay, or a method on a mode other than
    /// `cdc` or `events`.
    pub fn parse(text: &str) -> Result<Self, VariantError> {
        let (mode, capture) = match text.split_once(':') {
            Some((mode, capture)) => (mode, Some(capture)),
            None => (text, None),
        };
        let mode =
            Mode::from_name(mode).ok_or_else(|| VariantError::UnknownMode(mode.to_owned()))?;
        let mut variant = Self::from(mode);
        match capture {
            None => {}
            Some(name) if mode == Mode::Cdc => {
                variant.capture = Some(
                    CaptureMethod::from_name(name)
                        .ok_or_else(|| VariantError::UnknownCapture(name.to_owned()))?,
                );
            }
            Some(name) if mode == Mode::Events => {
                variant.relay = Some(
                    RelayMethod::from_name(name)
                        .ok_or_else(|| VariantError::UnknownRelay(name.to_owned()))?,
                );
            }
            Some(_) => return Err(VariantError::NoCapture(mode.name())),
        }
        Ok(variant)
    }

    /// What a comparison of `scenario` runs on the page: every mode it offers and, for a
    /// scenario that names query columns, cdc with each other capture method too; for one that
    /// names its outbox relay, events with both relays.
    pub fn all_for(scenario: &Scenario) -> Vec<Self> {
        let mut variants: Vec<Self> = Vec::new();
        for mode in scenario.modes() {
            match scenario.cdc.relay.filter(|_| mode == Mode::Events) {
                Some(own) => variants.extend(
                    std::iter::once(own)
                        .chain(RelayMethod::ALL.into_iter().filter(|r| *r != own))
                        .map(|relay| Self {
                            relay: Some(relay),
                            ..Self::from(mode)
                        }),
                ),
                None => variants.push(Self::from(mode)),
            }
        }
        if scenario.modes().contains(&Mode::Cdc) && !scenario.cdc.query_columns.is_empty() {
            variants.extend(
                CaptureMethod::ALL
                    .into_iter()
                    // A dual write is not a way to capture changes but what CDC replaces: it
                    // has lessons of its own, not a column in the capture methods' comparison.
                    .filter(|c| *c != scenario.cdc.capture && *c != CaptureMethod::DualWrite)
                    .map(|capture| Self {
                        capture: Some(capture),
                        ..Self::from(Mode::Cdc)
                    }),
            );
        }
        variants
    }

    /// `scenario` as this variant runs it.
    pub fn apply(&self, scenario: &Scenario) -> Scenario {
        let mut scenario = scenario.clone();
        scenario.mode = self.mode;
        if let Some(capture) = self.capture {
            scenario.cdc.capture = capture;
        }
        if let Some(relay) = self.relay {
            scenario.cdc.relay = Some(relay);
        }
        scenario
    }
}

/// Why a variant's name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariantError {
    /// No mode of that name.
    #[error("no mode \"{0}\" (modes: {modes})", modes = mode_names())]
    UnknownMode(String),
    /// No capture method of that name.
    #[error("no capture method \"{0}\" (methods: {methods})", methods = capture_names())]
    UnknownCapture(String),
    /// No outbox relay of that name.
    #[error("no outbox relay \"{0}\" (relays: log, polling)")]
    UnknownRelay(String),
    /// A capture method given to a mode without a connector.
    #[error("only cdc has capture methods (and events relays), not {0}")]
    NoCapture(&'static str),
}

fn mode_names() -> String {
    Mode::ALL.map(Mode::name).join(", ")
}

fn capture_names() -> String {
    CaptureMethod::ALL.map(CaptureMethod::name).join(", ")
}

/// One mode's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// The mode.
    pub mode: String,
    /// The run's trace hash.
    pub trace_hash: String,
    /// Per table: how many of the scenario's services write it.
    pub writers_per_table: BTreeMap<String, usize>,
    /// Time spent waiting for locks, all services, in milliseconds.
    pub lock_wait_ms: f64,
    /// Deadlocks, all databases.
    pub deadlocks: u64,
    /// Operations failed by a schema break (a table or column that is not there).
    pub schema_errors: u64,
    /// Operations refused for writing another service's table (`owned`).
    pub permission_errors: u64,
    /// Per service (the scenario's own): latency percentiles in milliseconds.
    pub latency_ms: BTreeMap<String, LatencySummary>,
    /// Per database: the share of its cores in use, 0–1.
    pub core_utilisation: BTreeMap<String, f64>,
    /// Per read model (`database.table`) that applied something: staleness p95 in milliseconds.
    pub staleness_p95_ms: BTreeMap<String, f64>,
    /// Per consumer group: lag p95 in messages.
    pub consumer_lag_p95_messages: BTreeMap<String, u64>,
    /// Per consumer group: lag p95 in milliseconds.
    pub consumer_lag_p95_ms: BTreeMap<String, f64>,
    /// Per consumer group: its lag at the end of the run, in milliseconds — how far behind
    /// its read models are then (a copy whose batches fail falls further behind every second,
    /// while the staleness of what it did apply stays small).
    pub consumer_lag_end_ms: BTreeMap<String, f64>,
    /// Per consumer group: batches that failed to apply (read again at the next poll).
    pub failed_batches: BTreeMap<String, u64>,
    /// Events delivered again and skipped by the consumers.
    pub duplicates: u64,
    /// `etl`: the core time the batch job's extracts took on the source, in milliseconds (the
    /// load it adds there).
    pub etl_extract_core_ms: Option<f64>,
    /// `cdc`: the connectors' capture method (`events`: the outbox relay, `outbox relay: log`).
    pub capture: Option<String>,
    /// `cdc`: changes the connectors never captured (deletes and others, `query` capture).
    pub capture_missed: u64,
    /// `cdc`: what capturing cost the sources, in core milliseconds (polls, audit inserts).
    pub capture_source_core_ms: f64,
    /// `events`: the outbox relay's latency p95, from an event's commit to its publish, in
    /// milliseconds.
    pub relay_latency_p95_ms: Option<f64>,
}

impl Scorecard {
    /// The scorecard of one run of `scenario`.
    pub fn of(scenario: &Scenario, report: &Report) -> Self {
        let own: Vec<&str> = scenario.services.iter().map(|s| s.name.as_str()).collect();
        let mut writers_per_table: BTreeMap<String, usize> = BTreeMap::new();
        for service in &scenario.services {
            let mut tables: Vec<String> = Vec::new();
            for operation in &service.operations {
                let (_, writes) = crate::sim::params::tables_used(&operation.statements);
                for table in writes {
                    if !tables.contains(&table) {
                        tables.push(table);
                    }
                }
            }
            for table in tables {
                *writers_per_table.entry(table).or_default() += 1;
            }
        }
        let errors = |kind: &str| -> u64 {
            report
                .services
                .values()
                .map(|s| s.total.errors_by_kind.get(kind).copied().unwrap_or(0))
                .sum()
        };
        Self {
            mode: report.mode.clone(),
            trace_hash: report.trace_hash.clone(),
            writers_per_table,
            lock_wait_ms: round3(report.services.values().map(|s| s.total.lock_wait_ms).sum()),
            deadlocks: report.databases.values().map(|d| d.deadlocks).sum(),
            schema_errors: errors("schema"),
            permission_errors: errors("permission"),
            latency_ms: report
                .services
                .iter()
                .filter(|(name, _)| own.contains(&name.as_str()))
                .map(|(name, s)| (name.clone(), s.total.latency_ms))
                .collect(),
            core_utilisation: report
                .databases
                .iter()
                .map(|(name, d)| (name.clone(), d.core_utilisation))
                .collect(),
            staleness_p95_ms: report
                .read_models
                .iter()
                .flat_map(|(db, tables)| {
                    tables
                        .iter()
                        .filter(|(_, m)| m.applied > 0)
                        .map(move |(table, m)| (format!("{db}.{table}"), m.staleness_ms.p95))
                })
                .chain(report.etl.iter().flat_map(|etl| {
                    etl.tables
                        .keys()
                        .map(move |table| (format!("{}.{table}", etl.target), etl.staleness_ms.p95))
                }))
                .collect(),
            consumer_lag_p95_messages: report
                .consumer_groups
                .iter()
                .map(|(name, g)| (name.clone(), g.lag_messages_p95))
                .collect(),
            consumer_lag_p95_ms: report
                .consumer_groups
                .iter()
                .map(|(name, g)| (name.clone(), g.lag_time_ms.p95))
                .collect(),
            consumer_lag_end_ms: report
                .consumer_groups
                .iter()
                .map(|(name, g)| (name.clone(), g.lag_ms))
                .collect(),
            failed_batches: report
                .consumer_groups
                .iter()
                .map(|(name, g)| (name.clone(), g.failed_batches))
                .collect(),
            duplicates: report.consumer_groups.values().map(|g| g.duplicates).sum(),
            etl_extract_core_ms: report.etl.as_ref().map(|e| e.extract_core_ms),
            // The events mode's relay stands for its capture method: the outbox's relay.
            capture: report.connectors.values().next().map(|c| match &c.relay {
                Some(relay) => format!("outbox relay: {}", relay.name()),
                None => c.capture.clone(),
            }),
            relay_latency_p95_ms: report
                .connectors
                .values()
                .filter_map(|c| c.relay_latency_ms.as_ref())
                .map(|l| round3(l.p95))
                .reduce(f64::max),
            capture_missed: report
                .connectors
                .values()
                .map(|c| c.missed_deletes + c.missed_changes)
                .sum(),
            capture_source_core_ms: round3(
                report.connectors.values().map(|c| c.source_core_ms).sum(),
            ),
        }
    }
}

/// The scorecards as a table's rows, one cell per mode, for the command line and the page:
/// writers per table, lock waits, deadlocks, errors, p50/p95/p99 of each of `services`, core
/// use per database, staleness, consumer lag, failed batches and duplicates. (Not the trace
/// hash: [`trace_row`] gives it, for the command line.)
pub fn scorecard_rows(services: &[String], cards: &[Scorecard]) -> Vec<(String, Vec<String>)> {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut line = |label: String, cell: &dyn Fn(&Scorecard) -> String| {
        rows.push((label, cards.iter().map(cell).collect()));
    };
    let tables: std::collections::BTreeSet<String> = cards
        .iter()
        .flat_map(|c| c.writers_per_table.keys().cloned())
        .collect();
    for table in &tables {
        line(format!("writers of {table}"), &|c| {
            c.writers_per_table
                .get(table)
                .copied()
                .unwrap_or(0)
                .to_string()
        });
    }
    line("lock wait (ms)".into(), &|c| {
        format!("{:.1}", c.lock_wait_ms)
    });
    line("deadlocks".into(), &|c| c.deadlocks.to_string());
    line("schema-break errors".into(), &|c| {
        c.schema_errors.to_string()
    });
    line("permission errors".into(), &|c| {
        c.permission_errors.to_string()
    });
    for name in services {
        for (label, pick) in [("p50", 0usize), ("p95", 1), ("p99", 2)] {
            line(format!("{name} {label} (ms)"), &|c| {
                c.latency_ms.get(name).map_or("-".to_owned(), |l| {
                    format!("{:.2}", [l.p50, l.p95, l.p99][pick])
                })
            });
        }
    }
    let databases: std::collections::BTreeSet<String> = cards
        .iter()
        .flat_map(|c| c.core_utilisation.keys().cloned())
        .collect();
    for db in &databases {
        line(format!("cores used: {db}"), &|c| {
            c.core_utilisation
                .get(db)
                .map_or("-".to_owned(), |u| format!("{:.1}%", u * 100.0))
        });
    }
    let models: std::collections::BTreeSet<String> = cards
        .iter()
        .flat_map(|c| c.staleness_p95_ms.keys().cloned())
        .collect();
    for model in &models {
        line(
            format!("staleness p95 {model} (ms, changes applied)"),
            &|c| {
                c.staleness_p95_ms
                    .get(model)
                    .map_or("-".to_owned(), |s| format!("{s:.1}"))
            },
        );
    }
    let groups: std::collections::BTreeSet<String> = cards
        .iter()
        .flat_map(|c| c.consumer_lag_p95_ms.keys().cloned())
        .collect();
    for group in &groups {
        line(format!("lag p95 {group} (messages)"), &|c| {
            c.consumer_lag_p95_messages
                .get(group)
                .map_or("-".to_owned(), u64::to_string)
        });
        line(format!("lag p95 {group} (ms)"), &|c| {
            c.consumer_lag_p95_ms
                .get(group)
                .map_or("-".to_owned(), |m| format!("{m:.1}"))
        });
        line(format!("behind at the end {group} (ms)"), &|c| {
            c.consumer_lag_end_ms
                .get(group)
                .map_or("-".to_owned(), |m| format!("{m:.1}"))
        });
        if cards
            .iter()
            .any(|c| c.failed_batches.get(group).is_some_and(|n| *n > 0))
        {
            line(format!("failed batches {group}"), &|c| {
                c.failed_batches
                    .get(group)
                    .map_or("-".to_owned(), u64::to_string)
            });
        }
    }
    line("duplicates delivered".into(), &|c| c.duplicates.to_string());
    if cards.iter().any(|c| c.capture.is_some()) {
        line("capture method".into(), &|c| {
            c.capture.clone().unwrap_or_else(|| "-".to_owned())
        });
        line("changes missed by capture".into(), &|c| {
            c.capture
                .as_ref()
                .map_or("-".to_owned(), |_| c.capture_missed.to_string())
        });
        line("capture on the source (core ms)".into(), &|c| {
            c.capture.as_ref().map_or("-".to_owned(), |_| {
                format!("{:.1}", c.capture_source_core_ms)
            })
        });
    }
    if cards.iter().any(|c| c.relay_latency_p95_ms.is_some()) {
        line("outbox relay latency p95 (ms)".into(), &|c| {
            c.relay_latency_p95_ms
                .map_or("-".to_owned(), |m| format!("{m:.1}"))
        });
    }
    if cards.iter().any(|c| c.etl_extract_core_ms.is_some()) {
        line("ETL extract on the source (core ms)".into(), &|c| {
            c.etl_extract_core_ms
                .map_or("-".to_owned(), |m| format!("{m:.1}"))
        });
    }
    rows
}

/// The scorecards' trace hashes as a row: a run's fingerprint (the same scenario, seed and mode
/// always give the same), for instructors checking that two runs are one.
pub fn trace_row(cards: &[Scorecard]) -> (String, Vec<String>) {
    (
        "trace".to_owned(),
        cards.iter().map(|c| c.trace_hash.clone()).collect(),
    )
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// Runs `scenario` with `seed` for `until` in each of `modes` and scores each run.
///
/// # Errors
///
/// The first mode whose world cannot be built, with its [`ScenarioError`].
pub fn compare(
    scenario: &Scenario,
    modes: &[Variant],
    seed: u64,
    until: Micros,
) -> Result<Vec<Scorecard>, (Variant, ScenarioError)> {
    Ok(compare_runs(scenario, modes, seed, until)?
        .into_iter()
        .map(|run| run.card)
        .collect())
}

/// One mode's run in a comparison: its scorecard and each service's p99 per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeRun {
    /// The mode's scorecard.
    pub card: Scorecard,
    /// Per service of the scenario: (second, p99 in ms) of each second with completions.
    pub p99_per_second: BTreeMap<String, Vec<(u64, f64)>>,
}

/// As [`compare`], with each service's p99 per second for the page's overlaid charts.
///
/// # Errors
///
/// As [`compare`].
pub fn compare_runs(
    scenario: &Scenario,
    modes: &[Variant],
    seed: u64,
    until: Micros,
) -> Result<Vec<ModeRun>, (Variant, ScenarioError)> {
    modes
        .iter()
        .map(|mode| {
            let scenario = mode.apply(scenario);
            let mut world = World::with_seed(&scenario, seed).map_err(|e| (*mode, e))?;
            world.step_until(until);
            let p99_per_second = scenario
                .services
                .iter()
                .map(|s| {
                    let seconds = world
                        .windows(&s.name)
                        .into_iter()
                        .filter(|w| w.completed > 0)
                        .map(|w| (w.second, w.latency_ms.p99))
                        .collect();
                    (s.name.clone(), seconds)
                })
                .collect();
            let mut card = Scorecard::of(&scenario, &world.report());
            card.mode = mode.name();
            Ok(ModeRun {
                card,
                p99_per_second,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock::SECOND;

    /// A scenario that names its outbox relay is compared with both, each named; one that does
    /// not gets plain `events`; a relay is a suffix of `events` only.
    #[test]
    fn a_scenario_naming_its_relay_compares_both_relays() {
        let scenario =
            Scenario::parse(crate::sim::builtin::scenario_text("outbox-relays").expect("built in"))
                .expect("valid");
        let names: Vec<String> = Variant::all_for(&scenario)
            .iter()
            .map(Variant::name)
            .collect();
        assert!(names.contains(&"events:polling".to_owned()), "{names:?}");
        assert!(names.contains(&"events:log".to_owned()), "{names:?}");
        assert!(!names.contains(&"events".to_owned()), "{names:?}");
        let shop = Scenario::parse(crate::sim::builtin::scenario_text("shop").expect("built in"))
            .expect("valid");
        let names: Vec<String> = Variant::all_for(&shop).iter().map(Variant::name).collect();
        assert!(names.contains(&"events".to_owned()), "{names:?}");
        let polling = Variant::parse("events:polling").expect("a relay");
        assert_eq!(polling.relay, Some(RelayMethod::Polling));
        assert_eq!(
            polling.apply(&shop).cdc.relay_method(),
            RelayMethod::Polling
        );
        assert!(matches!(
            Variant::parse("events:carrier-pigeon"),
            Err(VariantError::UnknownRelay(_))
        ));
        assert!(matches!(
            Variant::parse("shared:polling"),
            Err(VariantError::NoCapture(_))
        ));
    }

    #[test]
    fn the_capture_methods_compared_on_the_page_leave_out_the_dual_write() {
        let scenario = Scenario::parse(
            crate::sim::builtin::scenario_text("capture-methods").expect("built in"),
        )
        .expect("valid");
        let names: Vec<String> = Variant::all_for(&scenario)
            .iter()
            .map(Variant::name)
            .collect();
        assert!(names.iter().any(|n| n == "cdc:trigger"), "{names:?}");
        assert!(!names.iter().any(|n| n.contains("dual_write")), "{names:?}");
    }

    #[test]
    fn the_shop_scores_the_same_twice_and_differs_between_modes() {
        let scenario =
            Scenario::parse(crate::sim::builtin::scenario_text("shop").expect("built in"))
                .expect("valid");
        let modes = [Mode::Shared.into(), Mode::Cdc.into()];
        let a = compare(&scenario, &modes, 3, 3 * SECOND).expect("runs");
        let b = compare(&scenario, &modes, 3, 3 * SECOND).expect("runs");
        assert_eq!(a, b, "the same seed gives an identical scorecard");
        assert_eq!(a[0].mode, "shared");
        assert_eq!(a[1].mode, "cdc");
        assert!(a[0].staleness_p95_ms.is_empty());
        assert!(a[1].staleness_p95_ms.contains_key("billing.orders"));
        assert_eq!(a[0].writers_per_table.get("orders"), Some(&1));
        assert_eq!(a[0].latency_ms.len(), 4, "the scenario's own four services");
        assert_eq!(
            a[1].latency_ms.len(),
            4,
            "consumers' clients are not services"
        );
    }
}
