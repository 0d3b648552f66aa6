//! Ready-made SQL actions for the live page's console, worth one click: the scenario's own
//! timeline statements and, for the shop's tables, the course's classics (a report by hand, a
//! column renamed under the services' feet).
//!
//! Whether one is spent — a schema change already made — takes SQL parsing, which only the
//! engine's side does: the coupling map carries it ([`crate::sim::coupling::CouplingMap::spent`]),
//! so that the page, which has no SQL parser, shows it done.

use crate::sim::scenario::{ActionKind, Scenario};

/// A ready-made SQL action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    /// The button's label.
    pub label: String,
    /// The database it runs on.
    pub database: String,
    /// The SQL.
    pub sql: String,
}

/// The scenario's ready-made actions, in the order the page shows them (no two alike).
pub fn presets(scenario: &Scenario) -> Vec<Preset> {
    let mut presets: Vec<Preset> = scenario
        .timeline
        .iter()
        .filter(|e| e.action == ActionKind::Sql)
        .filter_map(|e| {
            let sql = e.sql.clone()?;
            let first_line = sql.lines().next().unwrap_or_default().to_owned();
            Some(Preset {
                label: format!("Now: {}", shorten(&first_line, 38)),
                database: e.database.clone()?,
                sql,
            })
        })
        .collect();
    for database in &scenario.databases {
        if database.shop.is_none() {
            continue;
        }
        let shop = |label: &str, sql: &str| Preset {
            label: label.to_owned(),
            database: database.name.clone(),
            sql: sql.to_owned(),
        };
        presets.extend([
            shop(
                "Run the revenue report",
                "SELECT status, COUNT(*), SUM(total_cents) FROM orders GROUP BY status",
            ),
            shop(
                "Rename orders.status",
                "ALTER TABLE orders RENAME COLUMN status TO state",
            ),
            shop(
                "Add a column to orders",
                "ALTER TABLE orders ADD COLUMN note TEXT NULL",
            ),
        ]);
    }
    presets.dedup_by(|a, b| a.sql == b.sql && a.database == b.database);
    presets
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::builtin;
    use crate::sim::database::Connection;
    use crate::sim::playback::Playback;

    #[test]
    fn the_shop_offers_its_classics_and_a_rename_is_spent_once_made() {
        let text = builtin::scenario_text("shop").expect("the shop");
        let scenario = Scenario::parse(text).expect("it reads");
        let presets = presets(&scenario);
        let rename = presets
            .iter()
            .position(|p| p.label == "Rename orders.status")
            .expect("the rename");
        let mut playback = Playback::new(scenario.clone(), scenario.seed).expect("it builds");
        let spent = |playback: &Playback| playback.world().coupling_map().spent;
        assert_eq!(
            spent(&playback),
            vec![false; presets.len()],
            "nothing done yet"
        );
        let preset = &presets[rename];
        assert!(Connection::prepare(&preset.sql).is_ok());
        playback
            .apply(crate::sim::world::Command::RunSql {
                database: preset.database.clone(),
                sql: preset.sql.clone(),
            })
            .expect("the rename runs");
        playback.run_until(100_000, || true);
        let after: Vec<bool> = spent(&playback);
        assert!(after[rename], "the rename is spent");
        assert_eq!(
            after.iter().filter(|s| **s).count(),
            1,
            "only it: {after:?}"
        );
    }
}
