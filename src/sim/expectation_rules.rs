//! A scenario's `[[phases]]` and `[[expect]]` checked against the scenario itself: each
//! expectation reads ([`crate::sim::expectation`]), names phases that exist, and measures
//! services, operations, databases and connectors the scenario has.

use crate::sim::expectation::{Expectation, Metric, MetricKind};
use crate::sim::scenario::{Scenario, ScenarioError};

/// The error kinds a scripted step can fail with (what `steps_failed(kind)` may name).
pub const STEP_ERROR_KINDS: [&str; 5] = [
    "deadlock",
    "lock_timeout",
    "serialization",
    "aborted",
    "sql",
];

/// Checks that each `query(…)` of the scenario's `[[expect]]` parses as SQL, at
/// `expect[i].that`. Apart from [`check_expectations`], because parsing SQL takes the engine's
/// parser, which the page does not carry: the run's build checks it
/// ([`crate::sim::world::World::build_databases`]), in the worker.
///
/// # Errors
///
/// The first query that does not parse, with the parser's message.
pub fn check_queries(scenario: &Scenario) -> Result<(), ScenarioError> {
    for (i, spec) in scenario.expect.iter().enumerate() {
        let Ok(expectation) = Expectation::parse(&spec.that) else {
            continue;
        };
        for metric in expectation.metrics() {
            if metric.kind != MetricKind::Query {
                continue;
            }
            let sql = metric.sql.as_deref().unwrap_or_default();
            crate::sim::database::Connection::prepare(sql).map_err(|e| {
                ScenarioError::at(format!("expect[{i}].that"), format!("query: {e}"))
            })?;
        }
    }
    Ok(())
}

/// Checks a scenario's `[[phases]]` and `[[expect]]`: each expectation reads, names phases that
/// exist, and measures services, operations, databases and connectors of the scenario.
///
/// # Errors
///
/// The first problem, at `expect[i].that` (with the column inside the expectation) or
/// `phases[i]`.
pub fn check_expectations(scenario: &Scenario) -> Result<(), ScenarioError> {
    let mut names = std::collections::BTreeSet::new();
    for (i, phase) in scenario.phases.iter().enumerate() {
        if phase.name.trim().is_empty() || phase.name.contains(char::is_whitespace) {
            return Err(ScenarioError::at(
                format!("phases[{i}].name"),
                "must be one word (expectations write `before <name>`)",
            ));
        }
        if !names.insert(phase.name.as_str()) {
            return Err(ScenarioError::at(
                format!("phases[{i}].name"),
                format!(
                    "is \"{}\" a second time: phase names must differ",
                    phase.name
                ),
            ));
        }
        if phase.to.is_some_and(|to| to < phase.from) {
            return Err(ScenarioError::at(
                format!("phases[{i}].to"),
                "must not come before `from`",
            ));
        }
    }
    for (i, spec) in scenario.expect.iter().enumerate() {
        let at = format!("expect[{i}].that");
        let expectation = Expectation::parse(&spec.that).map_err(|error| ScenarioError {
            within: Some(error.column),
            ..ScenarioError::at(
                &at,
                format!("{} (at column {})", error.message, error.column),
            )
        })?;
        for metric in expectation.metrics() {
            check_metric(scenario, metric).map_err(|message| ScenarioError::at(&at, message))?;
        }
        for mode in &spec.modes {
            if !scenario.modes().contains(mode) {
                return Err(ScenarioError::at(
                    format!("expect[{i}].modes"),
                    format!(
                        "names {}, a mode this scenario does not run in",
                        mode.name()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_metric(scenario: &Scenario, metric: &Metric) -> Result<(), String> {
    if let Some(phase) = metric.region.phase() {
        if !scenario.phases.iter().any(|p| p.name == phase) {
            let known: Vec<&str> = scenario.phases.iter().map(|p| p.name.as_str()).collect();
            return Err(format!(
                "names the phase \"{phase}\", which is not one of [[phases]] ({})",
                if known.is_empty() {
                    "there are none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    let service = |name: &str| scenario.services.iter().find(|s| s.name == name);
    let services = || {
        let names: Vec<&str> = scenario.services.iter().map(|s| s.name.as_str()).collect();
        names.join(", ")
    };
    let database = |name: &str| {
        if scenario.databases.iter().any(|d| d.name == name) {
            Ok(())
        } else {
            Err(format!(
                "{}: \"{name}\" is not a database of this scenario",
                metric.name
            ))
        }
    };
    let (first, second) = metric.target_parts();
    match metric.kind {
        MetricKind::Ops
        | MetricKind::FoundNothing
        | MetricKind::Errors(_)
        | MetricKind::Latency(_)
        | MetricKind::Throughput
        | MetricKind::LockWait
        | MetricKind::ExecTime => {
            let found = service(first).ok_or_else(|| {
                format!(
                    "{}: \"{first}\" is not a service of this scenario ({})",
                    metric.name,
                    services()
                )
            })?;
            if let Some(operation) = second {
                if !found.operations.iter().any(|o| o.name == operation) {
                    return Err(format!(
                        "{}: \"{operation}\" is not an operation of {first}",
                        metric.name
                    ));
                }
            }
            Ok(())
        }
        MetricKind::Duplicates
        | MetricKind::FailedBatches
        | MetricKind::Staleness(_)
        | MetricKind::Diff => {
            service(first).map(|_| ()).ok_or_else(|| {
                format!(
                    "{}: \"{first}\" is not a service of this scenario (a consumer group and \
                     a read model are named after the service they feed: {})",
                    metric.name,
                    services()
                )
            })?;
            let group = matches!(
                metric.kind,
                MetricKind::Duplicates | MetricKind::FailedBatches
            );
            if !group && second.is_none() {
                return Err(format!(
                    "{} takes a read model as service.table: {}({first}.orders)",
                    metric.name, metric.name
                ));
            }
            Ok(())
        }
        MetricKind::Lag | MetricKind::Missed | MetricKind::SourceCost => {
            let known = scenario
                .services
                .iter()
                .any(|s| !s.owns.is_empty() && format!("{}-connector", s.name) == metric.target);
            if known {
                Ok(())
            } else {
                Err(format!(
                    "{}: \"{}\" is not a connector of this scenario (a service that owns \
                     tables has one, named <service>-connector)",
                    metric.name, metric.target
                ))
            }
        }
        MetricKind::Deadlocks => database(&metric.target),
        // In the cdc and events modes each service's database is named after the service.
        MetricKind::Statements => database(&metric.target).or_else(|e| {
            service(&metric.target).map(|_| ()).ok_or_else(|| {
                format!("{e} (nor a service, whose own database has its name in cdc and events)")
            })
        }),
        MetricKind::Query => {
            database(&metric.target)?;
            let sql = metric.sql.as_deref().unwrap_or_default();
            if crate::sim::results::StatementKind::of(sql)
                != crate::sim::results::StatementKind::Query
            {
                return Err(format!("query: \"{sql}\" is not one SELECT"));
            }
            // Whether it parses is for the engine's side to say: [`check_queries`].
            Ok(())
        }
        MetricKind::StepsFailed => {
            if scenario.script.is_none() {
                return Err("steps_failed: this scenario has no [script]".to_owned());
            }
            if metric.target.is_empty() || STEP_ERROR_KINDS.contains(&metric.target.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "steps_failed: no step error kind \"{}\" (the kinds are {})",
                    metric.target,
                    STEP_ERROR_KINDS.join(", ")
                ))
            }
        }
    }
}
