//! The owner's side of the transactional outbox: at the commit of each of a service's
//! transactions, the events of the changes it made to its evented tables ([`EventContract`]s),
//! written into the outbox table in that transaction — `INSERT` and `DELETE` for the log relay,
//! an unpublished `INSERT` for the polling relay ([`crate::sim::outbox_poll`]). The writer
//! follows its owner's schema changes (a renamed column, a dropped one, a renamed table) from
//! the log, as the owner changes its mapping in the same deploy: the events stay the same.

use crate::sim::change_log::{ChangeKind, ChangeLog, Lsn, PendingChange, SchemaChange};
use crate::sim::clock::Micros;
use crate::sim::events::EventContract;
use serde_json::{Map, Value as Json};

/// A service's outbox: at the commit of each of its transactions, the events of the changes it
/// made to its evented tables, written into the outbox table (and deleted again) in that
/// transaction.
#[derive(Debug, Clone)]
pub struct OutboxWriter {
    /// The contracts of the tables the service owns.
    pub contracts: Vec<EventContract>,
    /// Per contract, field → the column it is taken from now (renames followed).
    columns: Vec<Vec<(String, Option<String>)>>,
    /// Per contract, the table's name now.
    tables: Vec<String>,
    next_id: u64,
    /// The log read so far for the owner's schema changes.
    seen_lsn: Lsn,
    /// Events written.
    pub written: u64,
    /// Which relay reads the outbox: the log relay's rows are deleted at once, the polling
    /// relay's stay until it marks them published.
    pub relay: crate::sim::outbox::RelayMethod,
}

impl OutboxWriter {
    /// A writer of `contracts`' events, whose ids start after `first_id - 1`.
    pub fn new(contracts: Vec<EventContract>, first_id: u64) -> Self {
        Self {
            columns: contracts.iter().map(|c| c.fields.clone()).collect(),
            tables: contracts.iter().map(|c| c.table.clone()).collect(),
            contracts,
            next_id: first_id.max(1),
            seen_lsn: 0,
            written: 0,
            relay: crate::sim::outbox::RelayMethod::Log,
        }
    }

    /// Per subject, the payload fields its events carry now (a field whose column is gone is
    /// left out, for the schema's default to fill).
    pub fn payload_fields(&self) -> Vec<(String, Vec<String>)> {
        self.contracts
            .iter()
            .zip(&self.columns)
            .map(|(contract, columns)| {
                let carried = columns
                    .iter()
                    .filter(|(_, column)| column.is_some())
                    .map(|(field, _)| field.clone())
                    .collect();
                (contract.subject.clone(), carried)
            })
            .collect()
    }

    /// Whether a statement writing `tables` needs the outbox (and so a transaction).
    pub fn covers(&self, tables: &[String]) -> bool {
        tables.iter().any(|t| self.tables.contains(t))
    }

    /// The owner changes its mapping with its schema: a column renamed in the log since the
    /// last call is renamed in the mapping, a dropped column leaves its field without a column,
    /// a renamed table is followed.
    pub fn follow_schema(&mut self, log: &ChangeLog) {
        // The schema history, not the log: retention may have dropped records the owner had
        // not seen yet, never a schema change.
        for change in log.schema_changes_since(self.seen_lsn + 1) {
            let ChangeKind::Schema(schema) = &change.kind else {
                continue;
            };
            for (c, table) in self.tables.iter_mut().enumerate() {
                if *table != change.table {
                    continue;
                }
                match schema {
                    SchemaChange::RenameColumn { from, to } => {
                        for (_, column) in &mut self.columns[c] {
                            if column.as_deref() == Some(from.as_str()) {
                                *column = Some(to.clone());
                            }
                        }
                    }
                    SchemaChange::DropColumn { column: dropped } => {
                        for (_, column) in &mut self.columns[c] {
                            if column.as_deref() == Some(dropped.as_str()) {
                                *column = None;
                            }
                        }
                    }
                    SchemaChange::RenameTable { to } => *table = to.clone(),
                    _ => {}
                }
            }
        }
        self.seen_lsn = log.next_lsn().saturating_sub(1);
    }

    /// The statements that write the events of `changes` (a transaction's, in order) into the
    /// outbox at `now`: per event an `INSERT` and the `DELETE` that removes it again (for the
    /// polling relay, only the `INSERT`, unpublished).
    pub fn statements(&mut self, changes: &[PendingChange], now: Micros) -> Vec<String> {
        let mut statements = Vec::new();
        for change in changes {
            let ChangeKind::Row {
                op,
                key,
                before,
                after,
            } = &change.kind
            else {
                continue;
            };
            let Some(c) = self.tables.iter().position(|t| *t == change.table) else {
                continue;
            };
            let contract = &self.contracts[c];
            let Some(event_type) = contract.event_type(*op) else {
                continue;
            };
            let Some(row) = after.as_ref().or(before.as_ref()) else {
                continue;
            };
            let mut payload = Map::new();
            for (field, column) in &self.columns[c] {
                let value = column
                    .as_ref()
                    .and_then(|name| change.columns.iter().position(|n| n == name))
                    .and_then(|i| row.get(i))
                    .map(crate::sim::debezium::json_value);
                // A field whose column is gone is left out: the schema's default fills it, or
                // the relay cannot encode the event.
                if let Some(value) = value {
                    payload.insert(field.clone(), value);
                }
            }
            let aggregate_id = crate::sim::debezium::json_value(&gluesql_key_value(key));
            let aggregate_id = match aggregate_id {
                Json::String(s) => s,
                other => other.to_string(),
            };
            let id = self.next_id;
            self.next_id += 1;
            self.written += 1;
            let payload = Json::Object(payload);
            match self.relay {
                crate::sim::outbox::RelayMethod::Log => {
                    statements.extend(crate::sim::outbox::write_statements(
                        &id.to_string(),
                        &contract.aggregate,
                        &aggregate_id,
                        event_type,
                        &payload,
                    ));
                }
                crate::sim::outbox::RelayMethod::Polling => {
                    statements.push(crate::sim::outbox_poll::write_statement(
                        id,
                        &contract.aggregate,
                        &aggregate_id,
                        event_type,
                        &payload,
                        now,
                    ));
                }
            }
        }
        statements
    }
}

/// A key as the value it holds.
fn gluesql_key_value(key: &gluesql::core::data::Key) -> gluesql::core::data::Value {
    gluesql::core::data::Value::from(key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::change_log::RowOp;
    use crate::sim::events::tests::{contract, db, spec};
    use std::rc::Rc;

    #[test]
    fn the_writer_follows_its_owners_rename_and_the_payload_stays_the_same() {
        let mut db = db();
        let contract = contract(spec(), &db).expect("valid");
        let mut writer = OutboxWriter::new(vec![contract], 1);
        db.execute("ALTER TABLE orders RENAME COLUMN total_cents TO amount_cents")
            .expect("renames");
        db.with_engine_ref(|e| writer.follow_schema(e.log()));
        let change = PendingChange {
            table: "orders".into(),
            columns: Rc::from(vec!["id".to_owned(), "amount_cents".to_owned()]),
            sql: None,
            kind: ChangeKind::Row {
                op: RowOp::Delete,
                key: gluesql::core::data::Key::I64(1),
                before: Some(vec![
                    gluesql::core::data::Value::I64(1),
                    gluesql::core::data::Value::I64(50),
                ]),
                after: None,
            },
        };
        let statements = writer.statements(&[change], 0);
        assert!(
            statements[0].contains("'OrderCancelled'"),
            "{}",
            statements[0]
        );
        assert!(
            statements[0].contains(r#""total_cents":50"#),
            "the event keeps its field: {}",
            statements[0]
        );
    }
}
