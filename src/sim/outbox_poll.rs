//! The naive outbox relay, for contrast with Debezium's outbox event router
//! ([`crate::sim::outbox`]): no log, only SQL. The owner writes each event into the outbox with
//! `published = FALSE` in the transaction of its change and leaves it there; every poll interval
//! the relay runs
//!
//! ```sql
//! SELECT id, aggregatetype, aggregateid, type, payload, created_at
//!   FROM outbox WHERE published = FALSE ORDER BY id LIMIT 500
//! ```
//!
//! publishes what it found, then `UPDATE outbox SET published = TRUE WHERE id IN (…)`.
//!
//! What it costs, measured by the simulation: every poll is a query the owner's database runs
//! (on its cores, taking its locks), found or not; with no index on `published` it reads the
//! whole outbox, which only grows (nothing deletes a published row here, as in the simplest
//! version of the pattern); and an event waits up to a poll interval before anyone sees it.
//!
//! Failures: a poll or a mark that fails, or an event that cannot be published (no topic for
//! its aggregate type, a payload that does not fit the schema), fails the relay as a crash
//! does; what it published and had not marked is published again after a restart, and the
//! readers skip those duplicates by event id. Where it differs from a real one: it is
//! single-threaded; a crash does not stop a mark already sent to the database (it commits); the
//! event's time is its `created_at`, written just before the owner's `COMMIT` — its commit
//! time, to the microsecond here.

use crate::sim::clock::Micros;
use crate::sim::outbox::{topic_for, OutboxError, RoutedEvent, OUTBOX_TABLE};
use crate::sim::results::{CellKind, Outcome};
use serde_json::{Map, Value as Json};

/// The `CREATE TABLE` of a polled outbox: the router's columns, an integer id (the poll's
/// order), when the event was written, and whether it was published.
pub const CREATE_POLLED_OUTBOX: &str =
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY, aggregatetype TEXT NOT NULL, \
     aggregateid TEXT NOT NULL, type TEXT NOT NULL, payload TEXT, \
     created_at TIMESTAMP NOT NULL, published BOOLEAN NOT NULL)";

/// The owner's `INSERT` of an event into a polled outbox, written at `now`.
pub fn write_statement(
    id: u64,
    aggregate_type: &str,
    aggregate_id: &str,
    event_type: &str,
    payload: &Json,
    now: Micros,
) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    format!(
        "INSERT INTO {OUTBOX_TABLE} (id, aggregatetype, aggregateid, type, payload, created_at, \
         published) VALUES ({id}, {}, {}, {}, {}, '{}', FALSE)",
        quote(aggregate_type),
        quote(aggregate_id),
        quote(event_type),
        quote(&payload.to_string()),
        crate::sim::params::timestamp_text(now)
    )
}

/// The relay's poll: at most `batch` events not yet published, oldest first.
pub fn poll_sql(batch: usize) -> String {
    format!(
        "SELECT id, aggregatetype, aggregateid, type, payload, created_at FROM {OUTBOX_TABLE} \
         WHERE published = FALSE ORDER BY id LIMIT {}",
        batch.max(1)
    )
}

/// The relay's mark of the events it published (`None` when it published none).
pub fn mark_sql(ids: &[u64]) -> Option<String> {
    if ids.is_empty() {
        return None;
    }
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    Some(format!(
        "UPDATE {OUTBOX_TABLE} SET published = TRUE WHERE id IN ({})",
        list.join(", ")
    ))
}

/// The events a poll found, from its result: each with its numeric id.
///
/// # Errors
///
/// [`OutboxError`] when a row lacks a column, its id is not a number, its payload is not JSON
/// or its `created_at` is not a timestamp.
pub fn events(outcome: &Outcome) -> Result<Vec<(u64, RoutedEvent)>, OutboxError> {
    let Outcome::Rows { columns, rows } = outcome else {
        return Ok(Vec::new());
    };
    let index = |name: &'static str| {
        columns
            .iter()
            .position(|c| c == name)
            .ok_or(OutboxError::MissingColumn(name))
    };
    let (id, aggregate, aggregate_id, kind, payload, created) = (
        index("id")?,
        index("aggregatetype")?,
        index("aggregateid")?,
        index("type")?,
        index("payload")?,
        index("created_at")?,
    );
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let text = |i: usize, name: &'static str| {
            row.get(i)
                .filter(|c| c.kind != CellKind::Null)
                .map(|c| c.text.clone())
                .ok_or(OutboxError::MissingColumn(name))
        };
        let number: u64 = text(id, "id")?
            .parse()
            .map_err(|_| OutboxError::MissingColumn("id"))?;
        let payload = match row.get(payload) {
            Some(cell) if cell.kind != CellKind::Null => {
                serde_json::from_str(&cell.text).map_err(|e| OutboxError::Payload(e.to_string()))?
            }
            _ => Json::Object(Map::new()),
        };
        let committed_at = crate::sim::params::parse_timestamp_text(&text(created, "created_at")?)
            .ok_or(OutboxError::MissingColumn("created_at"))?;
        events.push((
            number,
            RoutedEvent {
                topic: topic_for(&text(aggregate, "aggregatetype")?),
                key: text(aggregate_id, "aggregateid")?,
                id: number.to_string(),
                event_type: text(kind, "type")?,
                payload,
                committed_at,
                lsn: 0,
            },
        ));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::database::Database;
    use serde_json::json;

    /// Written by the owner, found by the poll, marked, and not found again.
    #[test]
    fn a_polled_event_is_found_once_then_marked() {
        let mut db = Database::new("shop");
        db.execute(CREATE_POLLED_OUTBOX).expect("creates");
        let payload = json!({"id": 42, "status": "it's paid"});
        for id in [2, 1] {
            let sql = write_statement(id, "order", "42", "OrderPaid", &payload, 1_500_000);
            db.execute(&sql).expect("inserts");
        }
        let found = db.execute(&poll_sql(10)).expect("polls");
        let found = events(&found.outcome).expect("events");
        let ids: Vec<u64> = found.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1, 2], "oldest first");
        let (_, event) = &found[0];
        assert_eq!(event.topic, "outbox.event.order");
        assert_eq!(event.key, "42");
        assert_eq!(event.event_type, "OrderPaid");
        assert_eq!(event.payload, payload);
        assert_eq!(event.committed_at, 1_500_000);
        db.execute(&mark_sql(&ids).expect("a mark")).expect("marks");
        let again = db.execute(&poll_sql(10)).expect("polls");
        assert!(events(&again.outcome).expect("events").is_empty());
        assert_eq!(mark_sql(&[]), None);
        for (id, key) in [(3, "43"), (4, "44")] {
            let sql = write_statement(id, "order", key, "OrderPlaced", &payload, 2_000_000);
            db.execute(&sql).expect("inserts");
        }
        let one = db.execute(&poll_sql(0)).expect("polls");
        let one: Vec<u64> = events(&one.outcome)
            .expect("events")
            .iter()
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(one, [3], "a batch of at least one, the oldest");
    }

    /// A result without the outbox's columns is refused, naming the first one missing; a
    /// statement without rows finds nothing.
    #[test]
    fn a_row_that_is_not_an_event_is_an_error() {
        let outcome = Outcome::Rows {
            columns: vec!["id".into()],
            rows: Vec::new(),
        };
        assert_eq!(
            events(&outcome),
            Err(OutboxError::MissingColumn("aggregatetype"))
        );
        assert!(events(&Outcome::Done).expect("nothing").is_empty());
    }
}
