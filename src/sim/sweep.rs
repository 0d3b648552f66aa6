//! Sweeps: one scenario run again and again at a growing scale — more services reading the
//! shared tables, or more load on all of them — with the same seed, so that what the course text
//! says happens *as systems scale* is measured point by point: how many services one schema
//! change breaks, how long everyone waits for locks, how the tail latency of a chosen operation
//! grows, how busy the database's cores are.
//!
//! A scenario names its sweep in `[sweep]` (the page's sweep panel and `dataflow-lab sweep` use
//! it); the command line may name another. Scaling by services copies the named services (`reader`
//! becomes `reader`, `reader_2`, … `reader_8`), each copy with the same operations and no tables
//! of its own, appended after the scenario's services so that theirs keep their random streams.
//! Scaling by load multiplies every operation's rate (and every `set_rate` of the timeline).

use crate::sim::clock::Micros;
use crate::sim::report::round3;
use crate::sim::scenario::{Scenario, ScenarioError, ServiceSpec};
use crate::sim::world::World;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The scenario's `[sweep]`: what grows, and through which points.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// The services to copy for a sweep over the number of services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clone: Vec<String>,
    /// How many of each cloned service at each point (with `clone`), e.g. `[1, 2, 4, 8]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<u32>,
    /// The load factors at each point, for a sweep over the load, e.g. `[1, 2, 4, 8]`: every
    /// operation's rate multiplied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<f64>,
    /// The operation whose p99 latency is followed, as `service.operation` (default: the first
    /// operation of the first service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<String>,
}

/// What a sweep varies.
#[derive(Debug, Clone, PartialEq)]
pub enum Axis {
    /// The number of copies of each of these services.
    Services {
        /// The services copied.
        clone: Vec<String>,
        /// Copies of each at each point.
        counts: Vec<u32>,
    },
    /// Every rate multiplied by each factor in turn.
    Load(Vec<f64>),
}

/// Why a sweep cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SweepError {
    /// The scenario names no sweep and none was given.
    #[error(
        "this scenario has no [sweep]: give --services N,… with --clone SERVICE, or --load F,…"
    )]
    NoSweep,
    /// The sweep is malformed.
    #[error("sweep.{field} {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A point's world could not be built (too many connections for the database, say).
    #[error("at {point}: {error}")]
    Build {
        /// The point, as the table labels it.
        point: String,
        /// Why.
        error: ScenarioError,
    },
}

impl SweepSpec {
    /// The sweep's axis and the operation it follows, checked against `scenario`.
    ///
    /// # Errors
    ///
    /// A [`SweepError::Invalid`] naming the field: both axes or neither, a service that is
    /// not the scenario's, a count of 0 or over 64, a factor that is not positive, too many
    /// points, an unknown operation to watch.
    pub fn axis(&self, scenario: &Scenario) -> Result<(Axis, (String, String)), SweepError> {
        let invalid = |field, message: String| SweepError::Invalid { field, message };
        let axis = match (self.services.is_empty(), self.load.is_empty()) {
            (false, true) => {
                if self.clone.is_empty() {
                    return Err(invalid(
                        "clone",
                        "must name the services to copy for a sweep over services".into(),
                    ));
                }
                if let Some(name) = self
                    .clone
                    .iter()
                    .find(|n| !scenario.services.iter().any(|s| &s.name == *n))
                {
                    return Err(invalid(
                        "clone",
                        format!("names \"{name}\", which is not a service of this scenario"),
                    ));
                }
                if let Some(n) = self.services.iter().find(|n| !(1..=64).contains(*n)) {
                    return Err(invalid(
                        "services",
                        format!("must be 1 to 64 copies, got {n}"),
                    ));
                }
                let most = self.services.iter().copied().max().unwrap_or(1);
                for name in &self.clone {
                    if let Some(taken) = (2..=most)
                        .map(|k| format!("{name}_{k}"))
                        .find(|copy| scenario.services.iter().any(|s| &s.name == copy))
                    {
                        return Err(invalid(
                            "clone",
                            format!(
                                "would name a copy of {name} {taken}, which is already a service"
                            ),
                        ));
                    }
                }
                Axis::Services {
                    clone: self.clone.clone(),
                    counts: self.services.clone(),
                }
            }
            (true, false) => {
                if let Some(f) = self
                    .load
                    .iter()
                    .find(|f| !f.is_finite() || **f <= 0.0 || **f > 1_000.0)
                {
                    return Err(invalid(
                        "load",
                        format!("must be factors above 0 and at most 1000, got {f}"),
                    ));
                }
                Axis::Load(self.load.clone())
            }
            (false, false) => {
                return Err(invalid(
                    "load",
                    "and sweep.services cannot both be given: sweep one thing at a time".into(),
                ))
            }
            (true, true) => return Err(SweepError::NoSweep),
        };
        let points = match &axis {
            Axis::Services { counts, .. } => counts.len(),
            Axis::Load(factors) => factors.len(),
        };
        if points > 12 {
            return Err(invalid(
                if self.load.is_empty() {
                    "services"
                } else {
                    "load"
                },
                format!("has {points} points; at most 12"),
            ));
        }
        let watch = match &self.watch {
            Some(text) => {
                let (service, operation) = text.split_once('.').unwrap_or((text, ""));
                let known = scenario
                    .services
                    .iter()
                    .find(|s| s.name == service)
                    .is_some_and(|s| s.operations.iter().any(|o| o.name == operation));
                if !known {
                    return Err(invalid(
                        "watch",
                        format!("is \"{text}\", which is not service.operation of this scenario"),
                    ));
                }
                (service.to_owned(), operation.to_owned())
            }
            None => scenario
                .services
                .iter()
                .find_map(|s| {
                    s.operations
                        .first()
                        .map(|o| (s.name.clone(), o.name.clone()))
                })
                .ok_or_else(|| invalid("watch", "has no operation to follow".into()))?,
        };
        Ok((axis, watch))
    }
}

/// The sweep a run asks for, checked: `given` (the command line's) if it names an axis, else
/// the scenario's `[sweep]`; the operation watched is `given`'s if it names one, else the
/// scenario's. The page passes an empty `given`.
///
/// # Errors
///
/// [`SweepError::NoSweep`] if neither names an axis; else as [`SweepSpec::axis`].
pub fn resolve(
    scenario: &Scenario,
    given: &SweepSpec,
) -> Result<(Axis, (String, String)), SweepError> {
    let own = scenario.sweep.as_ref();
    let watch = given
        .watch
        .clone()
        .or_else(|| own.and_then(|o| o.watch.clone()));
    let spec = if given.services.is_empty() && given.load.is_empty() {
        own.cloned().ok_or(SweepError::NoSweep)?
    } else {
        given.clone()
    };
    SweepSpec { watch, ..spec }.axis(scenario)
}

impl Axis {
    /// The points' labels: `1 × reader`, `4 × reader`; `×1`, `×2.5`.
    pub fn labels(&self) -> Vec<String> {
        match self {
            Self::Services { clone, counts } => counts
                .iter()
                .map(|n| format!("{n} × {}", clone.join("+")))
                .collect(),
            Self::Load(factors) => factors.iter().map(|f| format!("×{f}")).collect(),
        }
    }

    /// The points' scales, for a chart's x axis: copies, or factors.
    pub fn scales(&self) -> Vec<f64> {
        match self {
            Self::Services { counts, .. } => counts.iter().map(|n| f64::from(*n)).collect(),
            Self::Load(factors) => factors.clone(),
        }
    }

    /// What grows, in words (the table's first column).
    pub fn name(&self) -> String {
        match self {
            Self::Services { clone, .. } => format!("{} services", clone.join("+")),
            Self::Load(_) => "load".to_owned(),
        }
    }

    /// `scenario` at point `index`: the services copied, or the rates multiplied.
    pub fn apply(&self, scenario: &Scenario, index: usize) -> Scenario {
        let mut scenario = scenario.clone();
        // A point is a run, not a sweep (its copies would clash with the sweep's own check),
        // nor a lesson (one shown by its sweep would have none).
        scenario.sweep = None;
        scenario.lesson = None;
        match self {
            Self::Services { clone, counts } => {
                let copies = counts.get(index).copied().unwrap_or(1);
                let originals: Vec<ServiceSpec> = scenario
                    .services
                    .iter()
                    .filter(|s| clone.contains(&s.name))
                    .cloned()
                    .collect();
                for k in 2..=copies {
                    for original in &originals {
                        let mut copy = original.clone();
                        copy.name = format!("{}_{k}", original.name);
                        // One writer per table: the copies own nothing.
                        copy.owns.clear();
                        // A copy sits where its original does: the same network links.
                        let links: Vec<_> = scenario
                            .network
                            .links
                            .iter()
                            .filter(|l| l.from == original.name || l.to == original.name)
                            .map(|l| {
                                let mut link = l.clone();
                                for end in [&mut link.from, &mut link.to] {
                                    if *end == original.name {
                                        end.clone_from(&copy.name);
                                    }
                                }
                                link
                            })
                            .collect();
                        scenario.network.links.extend(links);
                        scenario.services.push(copy);
                    }
                }
            }
            Self::Load(factors) => {
                let factor = factors.get(index).copied().unwrap_or(1.0);
                for service in &mut scenario.services {
                    for operation in &mut service.operations {
                        operation.rate_per_s *= factor;
                    }
                }
                for entry in &mut scenario.timeline {
                    if let Some(rate) = &mut entry.rate_per_s {
                        *rate *= factor;
                    }
                }
            }
        }
        scenario
    }
}

/// One point of a sweep, measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The point, in words (`4 × reader`, `×2`).
    pub label: String,
    /// Its scale (copies, or the load factor).
    pub scale: f64,
    /// Services with at least one operation failed by a schema break.
    pub services_broken: usize,
    /// Operations failed by a schema break, all services.
    pub schema_errors: u64,
    /// Operations failed for any reason, all services.
    pub errors: u64,
    /// Time spent waiting for locks, all services, in milliseconds.
    pub lock_wait_ms: f64,
    /// The watched operation's p99 latency, in milliseconds.
    pub p99_ms: f64,
    /// The busiest database's share of its cores in use, 0–1.
    pub core_utilisation: f64,
    /// The run's trace hash.
    pub trace_hash: String,
}

/// A sweep's result: what grew, the operation followed, and each point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// What grows, in words.
    pub axis: String,
    /// The watched operation, `service.operation`.
    pub watch: String,
    /// The seed every point ran with.
    pub seed: u64,
    /// How long each point ran, in simulated milliseconds.
    pub until_ms: f64,
    /// The points, in order.
    pub points: Vec<SweepPoint>,
}

/// Runs `scenario` at every point of `axis` with `seed` for `until`, following `watch`'s p99.
/// `progress` hears each point as it starts (its index and the number of points).
///
/// # Errors
///
/// [`SweepError::Build`] for the first point whose world cannot be built.
pub fn sweep(
    scenario: &Scenario,
    axis: &Axis,
    watch: &(String, String),
    seed: u64,
    until: Micros,
    mut progress: impl FnMut(usize, usize),
) -> Result<Sweep, SweepError> {
    let labels = axis.labels();
    let scales = axis.scales();
    let mut points = Vec::with_capacity(labels.len());
    for (index, (label, scale)) in labels.iter().zip(&scales).enumerate() {
        progress(index, labels.len());
        let at = axis.apply(scenario, index);
        let mut world = World::with_seed(&at, seed).map_err(|error| SweepError::Build {
            point: label.clone(),
            error,
        })?;
        world.step_until(until);
        let report = world.report();
        let own: Vec<&str> = at.services.iter().map(|s| s.name.as_str()).collect();
        let services = report
            .services
            .iter()
            .filter(|(name, _)| own.contains(&name.as_str()));
        let schema = |s: &crate::sim::report::ServiceReport| {
            s.total.errors_by_kind.get("schema").copied().unwrap_or(0)
        };
        points.push(SweepPoint {
            label: label.clone(),
            scale: *scale,
            services_broken: services.clone().filter(|(_, s)| schema(s) > 0).count(),
            schema_errors: services.clone().map(|(_, s)| schema(s)).sum(),
            errors: services.clone().map(|(_, s)| s.total.errors).sum(),
            lock_wait_ms: round3(services.map(|(_, s)| s.total.lock_wait_ms).sum()),
            p99_ms: report
                .services
                .get(&watch.0)
                .and_then(|s| s.by_operation.get(&watch.1))
                .map_or(0.0, |o| o.latency_ms.p99),
            core_utilisation: report
                .databases
                .values()
                .map(|d| d.core_utilisation)
                .fold(0.0, f64::max),
            trace_hash: report.trace_hash,
        });
    }
    Ok(Sweep {
        axis: axis.name(),
        watch: format!("{}.{}", watch.0, watch.1),
        seed,
        until_ms: until as f64 / 1e3,
        points,
    })
}

impl fmt::Display for Sweep {
    /// The sweep as a table, one row per point.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p99 = format!("p99 {} (ms)", self.watch);
        let headers = [
            self.axis.as_str(),
            "services broken",
            "schema errors",
            "errors",
            "lock wait (ms)",
            p99.as_str(),
            "busiest cores",
        ];
        let rows: Vec<[String; 7]> = self
            .points
            .iter()
            .map(|p| {
                [
                    p.label.clone(),
                    p.services_broken.to_string(),
                    p.schema_errors.to_string(),
                    p.errors.to_string(),
                    format!("{:.1}", p.lock_wait_ms),
                    format!("{:.2}", p.p99_ms),
                    format!("{:.0} %", p.core_utilisation * 100.0),
                ]
            })
            .collect();
        let widths: Vec<usize> = (0..headers.len())
            .map(|c| {
                rows.iter()
                    .map(|r| r[c].chars().count())
                    .chain([headers[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |f: &mut fmt::Formatter<'_>, cells: &[&str]| -> fmt::Result {
            for (c, cell) in cells.iter().enumerate() {
                if c == 0 {
                    write!(f, "{cell:<w$}", w = widths[c])?;
                } else {
                    write!(f, "  {cell:>w$}", w = widths[c])?;
                }
            }
            writeln!(f)
        };
        line(f, &headers)?;
        for row in &rows {
            line(f, &row.iter().map(String::as_str).collect::<Vec<_>>())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::builtin;

    fn shop() -> Scenario {
        Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid")
    }

    #[test]
    fn copies_are_appended_own_nothing_and_keep_the_originals_first() {
        let scenario = shop();
        let axis = Axis::Services {
            clone: vec!["orders".into()],
            counts: vec![1, 3],
        };
        assert_eq!(axis.apply(&scenario, 0).services, scenario.services);
        let three = axis.apply(&scenario, 1);
        let names: Vec<&str> = three.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            &names[..scenario.services.len()],
            &scenario
                .services
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()[..]
        );
        assert_eq!(&names[scenario.services.len()..], &["orders_2", "orders_3"]);
        assert!(three.services[scenario.services.len()..]
            .iter()
            .all(|s| s.owns.is_empty()));
        assert_eq!(axis.labels(), vec!["1 × orders", "3 × orders"]);
    }

    #[test]
    fn copies_keep_their_originals_links_and_may_not_take_a_services_name() {
        let mut scenario = shop();
        scenario.network.links.push(crate::sim::network::LinkSpec {
            from: "shop".into(),
            to: "orders".into(),
            rtt: Some(crate::sim::clock::SimDuration(20_000)),
            jitter: None,
        });
        let axis = Axis::Services {
            clone: vec!["orders".into()],
            counts: vec![2],
        };
        let two = axis.apply(&scenario, 0);
        assert!(two
            .network
            .links
            .iter()
            .any(|l| l.from == "shop" && l.to == "orders_2"));
        let spec = SweepSpec {
            clone: vec!["orders".into()],
            services: vec![1, 2],
            ..SweepSpec::default()
        };
        assert!(spec.axis(&scenario).is_ok());
        let mut taken = scenario.clone();
        let mut copy = taken.services[0].clone();
        copy.name = "orders_2".into();
        copy.owns.clear();
        taken.services.push(copy);
        let error = spec.axis(&taken).unwrap_err().to_string();
        assert!(error.contains("orders_2"), "{error}");
    }

    #[test]
    fn load_multiplies_every_rate_and_the_timelines() {
        let scenario = shop();
        let doubled = Axis::Load(vec![1.0, 2.0]).apply(&scenario, 1);
        for (a, b) in scenario.services.iter().zip(&doubled.services) {
            for (x, y) in a.operations.iter().zip(&b.operations) {
                assert!((y.rate_per_s - 2.0 * x.rate_per_s).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn a_malformed_sweep_names_its_field() {
        let scenario = shop();
        let spec = |clone: &[&str], services: &[u32], load: &[f64], watch: Option<&str>| {
            SweepSpec {
                clone: clone.iter().map(|s| (*s).to_owned()).collect(),
                services: services.to_vec(),
                load: load.to_vec(),
                watch: watch.map(str::to_owned),
            }
            .axis(&scenario)
            .map(|_| ())
            .map_err(|e| e.to_string())
        };
        assert!(spec(&["orders"], &[1, 2], &[], None).is_ok());
        assert!(spec(&[], &[], &[1.0, 4.0], Some("orders.place_order")).is_ok());
        assert_eq!(
            spec(&[], &[], &[], None),
            Err(SweepError::NoSweep.to_string())
        );
        assert!(spec(&["nobody"], &[1], &[], None)
            .unwrap_err()
            .contains("sweep.clone"));
        assert!(spec(&[], &[1, 2], &[], None)
            .unwrap_err()
            .contains("sweep.clone"));
        assert!(spec(&["orders"], &[0], &[], None)
            .unwrap_err()
            .contains("sweep.services"));
        assert!(spec(&[], &[], &[-1.0], None)
            .unwrap_err()
            .contains("sweep.load"));
        assert!(spec(&["orders"], &[1], &[2.0], None)
            .unwrap_err()
            .contains("one thing"));
        assert!(spec(&[], &[], &[1.0], Some("orders.nothing"))
            .unwrap_err()
            .contains("sweep.watch"));
    }
}
