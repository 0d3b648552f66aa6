//! A log-based CDC connector: Debezium's PostgreSQL connector reading a source database's change
//! log through a replication slot.
//!
//! On its first start the connector takes an initial snapshot: it creates its replication slot at
//! the log's current LSN, reads every row of its tables as of that LSN and emits them as `op = "r"`
//! events (`source.snapshot` `"true"`, the last one `"last"`), a batch per poll; then it streams
//! the change log from that same LSN — committed transactions only, in commit order, one event
//! per row change ([`crate::sim::debezium`]) — so that nothing written during the snapshot is lost
//! or repeated. Every `offset_flush_interval` it flushes its offset (the next LSN to read) and
//! confirms it to the slot, which lets the source drop the log before it. After a crash it
//! resumes from the last flushed offset and sends again what came after it (at-least-once; the
//! re-sent events are counted). A stopped connector keeps its slot, so the source keeps its log
//! for it. The connector's lag is how far its position is behind the source's log, in records
//! and in time.
//!
//! Simplifications: the snapshot reads its tables at one instant (consistent at the slot's LSN,
//! as Debezium's exported snapshot is) and emits them over the following polls; a crash during the
//! snapshot starts the snapshot again, as Debezium does when no offset was flushed.

use crate::sim::change_log::{Change, ChangeKind, Lsn, TxnId};
use crate::sim::clock::Micros;
use crate::sim::database::{Database, DbError};
use crate::sim::debezium::{
    change_events, snapshot_event, EventContext, Record, ReplicaIdentity, SnapshotMarker,
    SnapshotRow, TransactionOrder,
};
use gluesql::core::data::Value;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// How a connector is set up (the Debezium properties of the same names in brackets).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorConfig {
    /// The connector's name; also its replication slot's (`slot.name`).
    pub name: String,
    /// The topics' prefix and `source.name` (`topic.prefix`).
    pub prefix: String,
    /// The tables it captures; empty: every table (`table.include.list`).
    pub tables: Vec<String>,
    /// Tables whose replica identity is `FULL` (the rest are `DEFAULT`).
    pub replica_identity: BTreeMap<String, ReplicaIdentity>,
    /// At most this many events per poll (`max.batch.size`).
    pub batch_size: usize,
    /// Time between polls when there was nothing to read (`poll.interval.ms`).
    pub poll_interval: Micros,
    /// Time between offset flushes (`offset.flush.interval.ms`).
    pub offset_flush_interval: Micros,
    /// The connector's own work per event (decoding, converting, producing).
    pub event_cost: Micros,
}

impl ConnectorConfig {
    /// A connector called `name` for topics prefixed `prefix`, with Debezium's defaults: a
    /// batch of 2,048 events, polls every 500 ms, offsets flushed every 60 s (Kafka Connect's
    /// `offset.flush.interval.ms`), and 20 µs of work per event.
    pub fn new(name: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            prefix: prefix.into(),
            tables: Vec::new(),
            replica_identity: BTreeMap::new(),
            batch_size: 2_048,
            poll_interval: 500_000,
            offset_flush_interval: 60_000_000,
            event_cost: 20,
        }
    }

    fn captures(&self, table: &str) -> bool {
        self.tables.is_empty() || self.tables.iter().any(|t| t == table)
    }
}

/// Where a connector stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectorState {
    /// Never started, or stopped: its slot stays, holding the source's log.
    Stopped,
    /// Emitting its initial snapshot.
    Snapshotting,
    /// Streaming the change log.
    Streaming,
    /// Crashed: nothing flushed since the last flush is remembered.
    Crashed,
}

impl ConnectorState {
    /// Its name for people.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::Snapshotting => "snapshotting",
            Self::Streaming => "streaming",
            Self::Crashed => "crashed",
        }
    }
}

/// What a connector has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectorStats {
    /// `r` events emitted by snapshots.
    pub snapshot_events: u64,
    /// Events streamed from the change log (tombstones included).
    pub streamed_events: u64,
    /// Events sent again after a crash (the log between the last flushed offset and where the
    /// connector had got to).
    pub resent_events: u64,
    /// Polls.
    pub polls: u64,
    /// Offset flushes.
    pub flushes: u64,
    /// Crashes.
    pub crashes: u64,
    /// Snapshots started.
    pub snapshots: u64,
}

/// The connector's lag behind its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnectorLag {
    /// Change-log records committed at the source and not read yet.
    pub records: u64,
    /// Age of the oldest of them (0 if none).
    pub age: Micros,
    /// Change-log records the source keeps for the connector's slot.
    pub retained: u64,
}

/// A row the snapshot read and has not emitted yet.
#[derive(Debug, Clone)]
struct SnapshotItem {
    table: Rc<str>,
    columns: Rc<[String]>,
    values: Vec<Value>,
}

/// Where the connector is within a transaction, for the events' `transaction` block.
#[derive(Debug, Clone)]
struct TransactionProgress {
    txn: TxnId,
    id: String,
    total: u64,
    per_table: BTreeMap<String, u64>,
}

/// A CDC connector on one source database.
#[derive(Debug, Clone)]
pub struct Connector {
    /// Its configuration.
    pub config: ConnectorConfig,
    state: ConnectorState,
    snapshot: VecDeque<SnapshotItem>,
    snapshot_lsn: Lsn,
    snapshot_txn: TxnId,
    /// The next LSN to read.
    position: Lsn,
    /// The last flushed offset (the next LSN to read after a restart); `None` until the
    /// snapshot is complete and flushed.
    flushed: Option<Lsn>,
    /// The furthest position ever reached, to count what a restart sends again.
    furthest: Lsn,
    last_commit_lsn: Option<Lsn>,
    transaction: Option<TransactionProgress>,
    stats: ConnectorStats,
}

impl Connector {
    /// A connector that has not started.
    pub fn new(config: ConnectorConfig) -> Self {
        Self {
            config,
            state: ConnectorState::Stopped,
            snapshot: VecDeque::new(),
            snapshot_lsn: 0,
            snapshot_txn: 0,
            position: 0,
            flushed: None,
            furthest: 0,
            last_commit_lsn: None,
            transaction: None,
            stats: ConnectorStats::default(),
        }
    }

    /// Where it stands.
    pub fn state(&self) -> ConnectorState {
        self.state
    }

    /// What it has done so far.
    pub fn stats(&self) -> ConnectorStats {
        self.stats
    }

    /// The next LSN it reads.
    pub fn position(&self) -> Lsn {
        self.position
    }

    /// The last flushed offset, if any.
    pub fn flushed(&self) -> Option<Lsn> {
        self.flushed
    }

    /// Snapshot rows not emitted yet.
    pub fn snapshot_remaining(&self) -> usize {
        self.snapshot.len()
    }

    /// Starts (or restarts) the connector at `now`: from its last flushed offset, or with a new
    /// snapshot if it never flushed one. Starting a running connector does nothing.
    ///
    /// # Errors
    ///
    /// A storage error if a table cannot be read for the snapshot.
    pub fn start(&mut self, db: &Database, now: Micros) -> Result<(), DbError> {
        if matches!(
            self.state,
            ConnectorState::Snapshotting | ConnectorState::Streaming
        ) {
            return Ok(());
        }
        self.transaction = None;
        match self.flushed {
            Some(offset) => {
                self.position = offset;
                self.state = ConnectorState::Streaming;
            }
            None => self.begin_snapshot(db, now)?,
        }
        Ok(())
    }

    /// Starts streaming from the source's current LSN as if the snapshot had been taken and
    /// its offset flushed before: for a pipeline already running when the simulation starts,
    /// whose read models begin as copies of the source.
    pub fn resume_at_current(&mut self, db: &Database) {
        let lsn = db.with_engine_ref(|e| e.log().next_lsn());
        db.with_engine_mut(|e| e.log_mut().hold_slot(&self.config.name, lsn));
        self.flushed = Some(lsn);
        self.position = lsn;
        self.furthest = lsn;
        self.last_commit_lsn = lsn.checked_sub(1).filter(|l| *l > 0);
        self.state = ConnectorState::Streaming;
    }

    /// Reads every captured table as of the log's current LSN and creates the slot there.
    fn begin_snapshot(&mut self, db: &Database, _now: Micros) -> Result<(), DbError> {
        let (lsn, tables) = db.with_engine_ref(|e| (e.log().next_lsn(), e.table_names()));
        let mut items = VecDeque::new();
        for table in tables.iter().filter(|t| self.config.captures(t)) {
            let (columns, rows) = db.committed_rows(table)?;
            let (table, columns): (Rc<str>, Rc<[String]>) =
                (Rc::from(table.as_str()), columns.into());
            items.extend(rows.into_iter().map(|values| SnapshotItem {
                table: Rc::clone(&table),
                columns: Rc::clone(&columns),
                values,
            }));
        }
        db.with_engine_mut(|e| e.log_mut().hold_slot(&self.config.name, lsn));
        self.snapshot = items;
        // The snapshot holds everything up to the record before `lsn`; its events carry that
        // LSN, and streaming starts after it.
        self.snapshot_lsn = lsn.saturating_sub(1);
        // The snapshot's own (read-only) transaction: the last one the source handed out.
        self.snapshot_txn = db.with_engine_ref(|e| e.log().iter().last().map_or(0, |c| c.txn));
        self.position = lsn;
        self.furthest = self.furthest.max(lsn);
        self.last_commit_lsn = lsn.checked_sub(1).filter(|l| *l > 0);
        self.state = ConnectorState::Snapshotting;
        self.stats.snapshots += 1;
        Ok(())
    }

    /// Moves the position to `lsn` without reading what comes before it: for a connector whose
    /// capture method is not the log (it reads the source by queries), so that its lag, offset
    /// and slot follow what it has captured.
    pub fn advance_to(&mut self, lsn: Lsn) {
        if self.state == ConnectorState::Streaming && lsn > self.position {
            self.position = lsn;
            self.furthest = self.furthest.max(lsn);
        }
    }

    /// Stops the connector gracefully: flushes its offset first. Its slot stays.
    pub fn stop(&mut self, db: &Database) {
        self.flush(db);
        self.snapshot.clear();
        self.state = ConnectorState::Stopped;
    }

    /// Crashes the connector: what it read since its last flush is forgotten, and a snapshot in
    /// progress is lost.
    pub fn crash(&mut self) {
        if matches!(
            self.state,
            ConnectorState::Snapshotting | ConnectorState::Streaming
        ) {
            self.snapshot.clear();
            self.state = ConnectorState::Crashed;
            self.stats.crashes += 1;
        }
    }

    /// Flushes the offset (the next LSN to read) and confirms it to the replication slot, so
    /// the source may drop the log before it. Nothing is flushed during a snapshot.
    pub fn flush(&mut self, db: &Database) {
        if self.state != ConnectorState::Streaming {
            return;
        }
        self.flushed = Some(self.position);
        let (name, position) = (self.config.name.clone(), self.position);
        db.with_engine_mut(|e| e.log_mut().hold_slot(&name, position));
        self.stats.flushes += 1;
    }

    /// Reads the next batch at `now`: snapshot rows while the snapshot lasts, then the change
    /// log's committed changes. Returns the messages to produce, in order.
    pub fn poll(&mut self, db: &Database, now: Micros) -> Vec<Record> {
        self.stats.polls += 1;
        match self.state {
            ConnectorState::Snapshotting => self.poll_snapshot(db, now),
            ConnectorState::Streaming => self.poll_log(db, now),
            ConnectorState::Stopped | ConnectorState::Crashed => Vec::new(),
        }
    }

    fn poll_snapshot(&mut self, db: &Database, now: Micros) -> Vec<Record> {
        let mut records = Vec::new();
        let mut keys: BTreeMap<Rc<str>, Vec<String>> = BTreeMap::new();
        while records.len() < self.config.batch_size.max(1) {
            let Some(item) = self.snapshot.pop_front() else {
                break;
            };
            let key_columns = keys
                .entry(Rc::clone(&item.table))
                .or_insert_with(|| db.with_engine_ref(|e| e.primary_key_columns(&item.table)));
            let marker = if self.snapshot.is_empty() {
                SnapshotMarker::Last
            } else {
                SnapshotMarker::Snapshot
            };
            let context = EventContext {
                prefix: &self.config.prefix,
                database: db.name(),
                key_columns,
                replica_identity: self.identity(&item.table),
                snapshot: marker,
                processed_at: now,
                last_commit_lsn: self.last_commit_lsn,
                transaction: None,
            };
            records.push(snapshot_event(
                SnapshotRow {
                    table: &item.table,
                    columns: &item.columns,
                    values: &item.values,
                    lsn: self.snapshot_lsn,
                    txn: self.snapshot_txn,
                    read_at: now,
                },
                &context,
            ));
        }
        self.stats.snapshot_events += records.len() as u64;
        if self.snapshot.is_empty() {
            self.state = ConnectorState::Streaming;
        }
        records
    }

    fn poll_log(&mut self, db: &Database, now: Micros) -> Vec<Record> {
        let changes: Vec<Change> = db.with_engine_ref(|e| {
            e.log()
                .since(self.position)
                .take(self.config.batch_size.max(1))
                .cloned()
                .collect()
        });
        let mut records = Vec::new();
        let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for change in &changes {
            self.position = change.lsn + 1;
            if !matches!(change.kind, ChangeKind::Row { .. })
                || !self.config.captures(&change.table)
            {
                self.end_transaction_if_done(db, change);
                continue;
            }
            let order = self.transaction_order(db, change);
            let key_columns = keys
                .entry(change.table.clone())
                .or_insert_with(|| db.with_engine_ref(|e| e.primary_key_columns(&change.table)));
            let context = EventContext {
                prefix: &self.config.prefix,
                database: db.name(),
                key_columns,
                replica_identity: self.identity(&change.table),
                snapshot: SnapshotMarker::Streaming,
                processed_at: now,
                last_commit_lsn: self.last_commit_lsn,
                transaction: Some(order),
            };
            let events = change_events(change, &context);
            if change.lsn < self.furthest {
                self.stats.resent_events += events.len() as u64;
            }
            self.stats.streamed_events += events.len() as u64;
            records.extend(events);
            self.end_transaction_if_done(db, change);
        }
        self.furthest = self.furthest.max(self.position);
        records
    }

    /// The event's place in its transaction; starts a new transaction's count when it changes.
    fn transaction_order(&mut self, db: &Database, change: &Change) -> TransactionOrder {
        if self
            .transaction
            .as_ref()
            .is_none_or(|t| t.txn != change.txn)
        {
            let last = db.with_engine_ref(|e| {
                e.log()
                    .since(change.lsn)
                    .take_while(|c| c.txn == change.txn)
                    .last()
                    .map_or(change.lsn, |c| c.lsn)
            });
            self.transaction = Some(TransactionProgress {
                txn: change.txn,
                id: format!("{}:{last}", change.txn),
                total: 0,
                per_table: BTreeMap::new(),
            });
        }
        let Some(progress) = self.transaction.as_mut() else {
            return TransactionOrder {
                id: String::new(),
                total_order: 1,
                data_collection_order: 1,
            };
        };
        progress.total += 1;
        let per_table = progress.per_table.entry(change.table.clone()).or_insert(0);
        *per_table += 1;
        TransactionOrder {
            id: progress.id.clone(),
            total_order: progress.total,
            data_collection_order: *per_table,
        }
    }

    /// Notes a transaction's last change: the next one's `sequence` starts from it.
    fn end_transaction_if_done(&mut self, db: &Database, change: &Change) {
        let next_is_same = db.with_engine_ref(|e| {
            e.log()
                .since(change.lsn + 1)
                .next()
                .is_some_and(|c| c.txn == change.txn)
        });
        if !next_is_same {
            self.last_commit_lsn = Some(change.lsn);
            self.transaction = None;
        }
    }

    fn identity(&self, table: &str) -> ReplicaIdentity {
        self.config
            .replica_identity
            .get(table)
            .copied()
            .unwrap_or_default()
    }

    /// How far the connector is behind the source's log at `now`.
    pub fn lag(&self, db: &Database, now: Micros) -> ConnectorLag {
        db.with_engine_ref(|e| {
            let log = e.log();
            let records = log
                .next_lsn()
                .saturating_sub(self.position.max(log.first_lsn()));
            let age = log
                .since(self.position)
                .next()
                .map_or(0, |c| now.saturating_sub(c.committed_at));
            let retained = log.slot(&self.config.name).map_or(0, |slot| {
                log.next_lsn().saturating_sub(slot.max(log.first_lsn()))
            });
            ConnectorLag {
                records,
                age,
                retained,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Database {
        let mut db = Database::new("shop");
        for sql in [
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)",
            "INSERT INTO orders VALUES (1, 'new'), (2, 'new')",
        ] {
            db.execute(sql).expect("setup");
        }
        db
    }

    fn ops(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| match &r.value {
                Some(v) => serde_json::from_str::<serde_json::Value>(v).expect("JSON")["op"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                None => "tombstone".to_owned(),
            })
            .collect()
    }

    #[test]
    fn a_first_start_snapshots_then_streams_from_the_snapshot_lsn() {
        let mut db = db();
        let mut connector = Connector::new(ConnectorConfig::new("cdc", "shop"));
        connector.start(&db, 0).expect("starts");
        assert_eq!(connector.state(), ConnectorState::Snapshotting);
        db.execute("UPDATE orders SET status = 'paid' WHERE id = 1")
            .expect("a write during the snapshot");
        let records = connector.poll(&db, 10);
        assert_eq!(ops(&records), ["r", "r"]);
        assert_eq!(connector.state(), ConnectorState::Streaming);
        let records = connector.poll(&db, 20);
        assert_eq!(
            ops(&records),
            ["u"],
            "the write during the snapshot is streamed"
        );
    }

    #[test]
    fn a_crash_resends_what_came_after_the_last_flush() {
        let mut db = db();
        let mut connector = Connector::new(ConnectorConfig::new("cdc", "shop"));
        connector.start(&db, 0).expect("starts");
        connector.poll(&db, 0);
        db.execute("INSERT INTO orders VALUES (3, 'new')")
            .expect("insert");
        connector.poll(&db, 1);
        connector.flush(&db);
        db.execute("DELETE FROM orders WHERE id = 3")
            .expect("delete");
        let before_crash = connector.poll(&db, 2);
        assert_eq!(ops(&before_crash), ["d", "tombstone"]);
        connector.crash();
        assert!(connector.poll(&db, 3).is_empty());
        connector.start(&db, 4).expect("restarts");
        let again = connector.poll(&db, 4);
        let positions = |records: &[Record]| -> Vec<(Lsn, Option<String>)> {
            records.iter().map(|r| (r.lsn, r.key.clone())).collect()
        };
        assert_eq!(positions(&again), positions(&before_crash));
        assert_eq!(ops(&again), ["d", "tombstone"]);
        assert_eq!(connector.stats().resent_events, 2);
    }

    #[test]
    fn a_stopped_connectors_slot_keeps_the_sources_log() {
        let mut db =
            Database::with_engine("shop", crate::sim::storage::Engine::with_log_retention(2));
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .expect("setup");
        let mut connector = Connector::new(ConnectorConfig::new("cdc", "shop"));
        connector.start(&db, 0).expect("starts");
        connector.poll(&db, 0);
        connector.stop(&db);
        for i in 0..10 {
            db.execute(&format!("INSERT INTO t VALUES ({i})"))
                .expect("insert");
        }
        let lag = connector.lag(&db, 0);
        assert_eq!(lag.records, 10);
        assert!(lag.retained >= 10, "the slot holds the log: {lag:?}");
        connector.start(&db, 1).expect("restarts");
        let records = connector.poll(&db, 1);
        assert_eq!(records.len(), 10, "nothing was lost while it was stopped");
        connector.flush(&db);
        assert_eq!(connector.lag(&db, 1).records, 0);
        assert!(
            db.with_engine_ref(|e| e.log().len()) <= 2,
            "the log shrinks back to retention"
        );
    }
}
