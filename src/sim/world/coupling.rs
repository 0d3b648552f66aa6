//! The coupling map and the schema-change preview of a running world: the map read from the
//! services' SQL against the databases' tables as they are now, and the preview told who holds a
//! lock the change will wait for.

use super::World;
use crate::sim::coupling::{Columns, CouplingMap, Preview, PreviewError};
use crate::sim::locks::{LockMode, Resource};
use serde::{Deserialize, Serialize};

/// A schema change previewed in a running world.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivePreview {
    /// What it will break and the lock it takes.
    pub preview: Preview,
    /// Who holds a lock on the table that conflicts with it, now: it will wait for them, and
    /// everything that comes after it will wait behind it.
    pub waits_for: Vec<String>,
}

impl World {
    /// Each table of database `name` with its columns, now (empty for an unknown database).
    pub fn columns(&self, name: &str) -> Columns {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .and_then(|n| n.db.columns().ok())
            .unwrap_or_default()
    }

    /// The tables of node `node` that `sql` breaks on now: those it names that are gone, or
    /// that no longer have a column it names; every table it names if neither can be told.
    pub(super) fn broken_tables(&self, node: usize, sql: &str) -> Vec<String> {
        let columns = self
            .nodes
            .get(node)
            .and_then(|n| n.db.columns().ok())
            .unwrap_or_default();
        let access = crate::sim::coupling::Access::of_sql(sql, &columns);
        let broken: Vec<String> = access
            .tables
            .iter()
            .filter(|table| match columns.get(*table) {
                None => true,
                Some(have) => access
                    .reads
                    .iter()
                    .chain(&access.writes)
                    .any(|(t, column)| t == *table && !have.contains(column)),
            })
            .cloned()
            .collect();
        if broken.is_empty() {
            access.tables.into_iter().collect()
        } else {
            broken
        }
    }

    /// The coupling map of the scenario's services over the tables as they are now, with the
    /// operations running now.
    ///
    /// Each service is drawn on the database it runs on: in the `cdc` and `events` modes its
    /// own, where the tables it reads but does not own are read models (copies the pipeline
    /// keeps); in the `etl` mode, the analytics services on the analytics database.
    pub fn coupling_map(&self) -> CouplingMap {
        let mut scenario = self.scenario.clone();
        scenario.databases = self
            .nodes
            .iter()
            .zip(&self.node_specs)
            .filter_map(|(node, from)| {
                let spec = self.scenario.databases.iter().find(|d| d.name == *from)?;
                Some(crate::sim::scenario::DatabaseSpec {
                    name: node.name.clone(),
                    ..spec.clone()
                })
            })
            .collect();
        for spec in &mut scenario.services {
            let node = self
                .services
                .iter()
                .find(|s| s.name == spec.name)
                .and_then(|s| self.nodes.get(s.node));
            if let Some(node) = node {
                spec.database = node.name.clone();
            }
        }
        let read_models = self
            .nodes
            .iter()
            .zip(&self.node_tables)
            .map(|(node, (_, models))| (node.name.clone(), models.iter().cloned().collect()))
            .collect();
        CouplingMap::build(
            &scenario,
            |name| self.columns(name),
            |service, operation| {
                self.services
                    .iter()
                    .filter(|s| s.name == service)
                    .flat_map(|s| &s.operations)
                    .any(|o| o.name == operation && o.enabled)
            },
        )
        .with_read_models(read_models)
    }

    /// What the coupling map depends on that a run changes — each database's columns and
    /// which operations run — cheap to compare, so that the map is rebuilt (every operation's
    /// SQL parsed again) only when one of them has changed.
    pub fn coupling_inputs(&self) -> (Vec<Columns>, Vec<bool>) {
        (
            self.nodes.iter().map(|n| self.columns(&n.name)).collect(),
            self.services
                .iter()
                .flat_map(|s| s.operations.iter().map(|o| o.enabled))
                .collect(),
        )
    }

    /// What `sql`, a schema change on `database`, would break, and whom it would wait for.
    ///
    /// # Errors
    ///
    /// [`PreviewError`] if it does not parse or is not a schema change.
    pub fn preview_schema_change(
        &self,
        database: &str,
        sql: &str,
    ) -> Result<LivePreview, PreviewError> {
        // PostgreSQL's `DROP INDEX name` names no table: find it, for the preview's lock.
        let node = self.nodes.iter().find(|n| n.name == database);
        let qualified = match (crate::sim::database::Connection::prepare(sql), node) {
            (Ok(crate::sim::statement::Command::DropIndex { name, .. }), Some(node)) => node
                .db
                .with_engine_ref(|engine| engine.table_of_index(&name).map(str::to_owned))
                .map(|table| format!("DROP INDEX {table}.{name}")),
            _ => None,
        };
        let preview = self
            .coupling_map()
            .preview(database, qualified.as_deref().unwrap_or(sql))?;
        let mut waits_for: Vec<String> = Vec::new();
        if let Some(node) = self.nodes.iter().find(|n| n.name == database) {
            let table = preview.change.table().unwrap_or_default();
            for (resource, held) in node.locks.held() {
                let on_table = matches!(&resource, Resource::Table(t) if t == table);
                if on_table && held.mode.conflicts_with(LockMode::Table(preview.lock)) {
                    let who = self.who(held.owner);
                    if !waits_for.contains(&who) {
                        waits_for.push(who);
                    }
                }
            }
        }
        Ok(LivePreview { preview, waits_for })
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::modes::Mode;
    use crate::sim::scenario::Scenario;
    use crate::sim::world::World;

    fn map_in(mode: Mode) -> crate::sim::coupling::CouplingMap {
        let text = crate::sim::builtin::scenario_text("evolution-path").expect("built in");
        let mut scenario = Scenario::parse(text).expect("parses");
        scenario.mode = mode;
        World::new(&scenario).expect("builds").coupling_map()
    }

    #[test]
    fn each_service_is_drawn_on_the_database_it_runs_on() {
        let shared = map_in(Mode::Shared);
        assert_eq!(shared.databases.keys().collect::<Vec<_>>(), ["shop"]);
        assert!(shared.read_models.is_empty());
        let cdc = map_in(Mode::Cdc);
        let billing = cdc
            .operations
            .iter()
            .find(|o| o.service == "billing")
            .expect("billing runs");
        assert_ne!(billing.database, "shop");
        let status = ("orders".to_owned(), "status".to_owned());
        // billing reads its own copy of the orders, kept by the pipeline; the owner writes the
        // table in its database.
        assert!(cdc
            .mark("billing", &billing.database, &status)
            .is_some_and(|m| m.symbol() == "R"));
        assert!(cdc.is_read_model(&billing.database, "orders"));
        let owner = cdc
            .operations
            .iter()
            .find(|o| o.service == "orders")
            .expect("orders runs");
        assert!(!cdc.is_read_model(&owner.database, "orders"));
        assert_eq!(cdc.writers(&owner.database, "orders"), ["orders"]);
        assert_eq!(cdc.owner(&owner.database, "orders"), Some("orders"));
    }
}
