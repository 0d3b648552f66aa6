//! The scenarios that ship with the app, embedded at compile time from `static/scenarios/`.

/// Built-in scenarios: (name, TOML text), in the order of the course text's sections.
pub const SCENARIOS: &[(&str, &str)] = &[
    ("shop", include_str!("../../static/scenarios/shop.toml")),
    (
        "shared-basics",
        include_str!("../../static/scenarios/shared-basics.toml"),
    ),
    (
        "tight-coupling",
        include_str!("../../static/scenarios/tight-coupling.toml"),
    ),
    (
        "as-systems-scale",
        include_str!("../../static/scenarios/as-systems-scale.toml"),
    ),
    (
        "two-writers",
        include_str!("../../static/scenarios/two-writers.toml"),
    ),
    (
        "lost-update",
        include_str!("../../static/scenarios/lost-update.toml"),
    ),
    (
        "internal-column",
        include_str!("../../static/scenarios/internal-column.toml"),
    ),
    (
        "outbox-contract",
        include_str!("../../static/scenarios/outbox-contract.toml"),
    ),
    (
        "lost-field",
        include_str!("../../static/scenarios/lost-field.toml"),
    ),
    (
        "alter-queue",
        include_str!("../../static/scenarios/alter-queue.toml"),
    ),
    (
        "expand-contract",
        include_str!("../../static/scenarios/expand-contract.toml"),
    ),
    (
        "compat-view",
        include_str!("../../static/scenarios/compat-view.toml"),
    ),
    (
        "report-vs-writers",
        include_str!("../../static/scenarios/report-vs-writers.toml"),
    ),
    (
        "reporting-index",
        include_str!("../../static/scenarios/reporting-index.toml"),
    ),
    (
        "etl-vs-cdc",
        include_str!("../../static/scenarios/etl-vs-cdc.toml"),
    ),
    (
        "cdc-basics",
        include_str!("../../static/scenarios/cdc-basics.toml"),
    ),
    (
        "capture-methods",
        include_str!("../../static/scenarios/capture-methods.toml"),
    ),
    (
        "dual-write",
        include_str!("../../static/scenarios/dual-write.toml"),
    ),
    (
        "db-queue",
        include_str!("../../static/scenarios/db-queue.toml"),
    ),
    (
        "queue-polling",
        include_str!("../../static/scenarios/queue-polling.toml"),
    ),
    (
        "deadlock",
        include_str!("../../static/scenarios/deadlock.toml"),
    ),
    (
        "outbox-relays",
        include_str!("../../static/scenarios/outbox-relays.toml"),
    ),
    (
        "replica-reporting",
        include_str!("../../static/scenarios/replica-reporting.toml"),
    ),
    (
        "evolution-path",
        include_str!("../../static/scenarios/evolution-path.toml"),
    ),
];

/// The text of the built-in scenario called `name`.
pub fn scenario_text(name: &str) -> Option<&'static str> {
    SCENARIOS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// A part of the course text and the built-in lessons that teach it: (part, [(name, title)]).
pub type Part = (String, Vec<(&'static str, String)>);

/// The built-in lessons grouped by the part of the course text they teach, in its order — what
/// the page's scenario picker lists (built once per page). Each file is read with the scenario
/// parser: a lighter read of two fields costs the page 8 KB of wasm for its own deserializer.
pub fn catalogue() -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    for (name, text) in SCENARIOS {
        let scenario = crate::sim::scenario::Scenario::parse(text).ok();
        let title = scenario
            .as_ref()
            .and_then(|s| s.title.clone())
            .unwrap_or_default();
        let section = scenario
            .as_ref()
            .and_then(|s| s.lesson.as_ref())
            .map_or("Other", |l| l.section.as_str());
        // "Major Problems and Risks: Tight Coupling" and "… — lock contention" belong to the
        // part before the colon or the dash.
        let part = section.split(" — ").next().unwrap_or(section);
        let part = match part.split_once(": ") {
            Some((head, _))
                if head == "Major Problems and Risks"
                    || head == "Schema Evolution with Shared Databases" =>
            {
                head
            }
            _ => part,
        };
        match parts.iter_mut().find(|(p, _)| p == part) {
            Some((_, lessons)) => lessons.push((name, title)),
            None => parts.push((part.to_owned(), vec![(name, title)])),
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::Scenario;

    #[test]
    fn the_catalogue_lists_every_lesson_once_under_its_part() {
        let parts = catalogue();
        let listed: Vec<&str> = parts
            .iter()
            .flat_map(|(_, l)| l.iter().map(|(n, _)| *n))
            .collect();
        assert_eq!(listed.len(), SCENARIOS.len());
        assert!(parts.iter().all(|(part, _)| part != "Other"));
        let problems = parts
            .iter()
            .find(|(part, _)| part == "Major Problems and Risks")
            .expect("the problems part");
        assert!(problems
            .1
            .iter()
            .any(|(n, t)| *n == "tight-coupling" && !t.is_empty()));
    }

    #[test]
    fn every_builtin_scenario_is_valid_and_named_as_listed() {
        for (name, text) in SCENARIOS {
            let scenario = Scenario::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&scenario.name, name);
            // The page falls back on these: each must also build into a world, in every mode
            // it offers.
            for mode in scenario.modes() {
                let mut scenario = scenario.clone();
                scenario.mode = mode;
                crate::sim::world::World::new(&scenario)
                    .unwrap_or_else(|e| panic!("{name} in {}: {e}", mode.name()));
            }
        }
    }
}
