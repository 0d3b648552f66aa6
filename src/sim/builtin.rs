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
        "alter-queue",
        include_str!("../../static/scenarios/alter-queue.toml"),
    ),
    (
        "expand-contract",
        include_str!("../../static/scenarios/expand-contract.toml"),
    ),
    (
        "report-vs-writers",
        include_str!("../../static/scenarios/report-vs-writers.toml"),
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
        "deadlock",
        include_str!("../../static/scenarios/deadlock.toml"),
    ),
    (
        "outbox-relays",
        include_str!("../../static/scenarios/outbox-relays.toml"),
    ),
];

/// The text of the built-in scenario called `name`.
pub fn scenario_text(name: &str) -> Option<&'static str> {
    SCENARIOS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::Scenario;

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
