//! Dual writes: a service commits its transaction to its database, then publishes the change
//! to the event log itself — two writes with no transaction around both, the integration the
//! outbox pattern and log-based CDC exist to replace.
//!
//! What goes wrong, and what this models:
//!
//! - **Order.** Each publish is a call of its own to the broker, made after the commit; its
//!   latency varies. Two transactions committed a few milliseconds apart can be published in
//!   the opposite order, and the application has no log position to put in its events, so no
//!   consumer can tell: the older state is applied last, and the read model stays wrong for
//!   good. Here each transaction's publish takes a uniformly drawn delay in `0..=jitter`
//!   after its commit, and the events carry nothing of the log: `source.lsn`, `sequence`,
//!   `txId` and `xmin` and the `transaction` block are null.
//! - **Loss.** A crash between the commit and the publish loses the events: the row is in the
//!   database, the log never hears of it. Here a crash of the publisher forgets every change
//!   committed since its last publish, and publishing goes on from the crash.
//!
//! Modelled by reading what the services committed from the change log (what each service
//! knows it just wrote) every `poll_interval` and producing it the way a service would; the
//! messages have Debezium's envelope, so the same consumers apply them. Simplification: the
//! transactions read in one poll are published together at the poll, ordered by commit +
//! delay among themselves; publishes never cross from one poll into the next, so a few swaps
//! a real service could make (commits close together on both sides of a poll) do not happen.

use crate::sim::clock::Micros;
use crate::sim::debezium::Record;
use crate::sim::rng::SimRng;
use serde_json::Value as Json;

/// The services' publishing, for one source database.
#[derive(Debug, Clone)]
pub struct Publisher {
    rng: SimRng,
    /// A publish takes up to this long after its commit.
    pub jitter: Micros,
    /// Transactions published out of their commit order so far.
    pub reordered: u64,
}

impl Publisher {
    /// A publisher drawing its delays from `rng`.
    pub fn new(rng: SimRng, jitter: Micros) -> Self {
        Self {
            rng,
            jitter,
            reordered: 0,
        }
    }

    /// The messages of `records` (in commit order, as the change log has them) in the order
    /// the services publish them, without their log positions.
    pub fn publish(&mut self, records: Vec<Record>) -> Vec<Record> {
        // One delay per transaction: its records are published together, in their order.
        let mut transactions: Vec<(Micros, usize, Vec<Record>)> = Vec::new();
        let mut last_txn: Option<Json> = None;
        let jitter = i64::try_from(self.jitter).unwrap_or(i64::MAX);
        for record in records {
            let (record, txn) = without_position(record);
            // A tombstone (no value, so no transaction) goes with the delete before it.
            let same = txn.is_none() || txn == last_txn;
            if txn.is_some() {
                last_txn = txn;
            }
            match transactions.last_mut() {
                Some((_, _, batch)) if same => batch.push(record),
                _ => {
                    let delay = Micros::try_from(self.rng.int_in(0, jitter)).unwrap_or(0);
                    let at = record.committed_at.saturating_add(delay);
                    let order = transactions.len();
                    transactions.push((at, order, vec![record]));
                }
            }
        }
        transactions.sort_by_key(|(at, order, _)| (*at, *order));
        self.reordered += transactions.windows(2).filter(|w| w[1].1 < w[0].1).count() as u64;
        transactions
            .into_iter()
            .flat_map(|(_, _, batch)| batch)
            .collect()
    }
}

/// A message whose value no longer says where in the source's log its change was, and the
/// transaction it belonged to (`source.txId`; `None` for a tombstone).
fn without_position(mut record: Record) -> (Record, Option<Json>) {
    let mut txn = None;
    if let Some(value) = &record.value {
        if let Ok(mut envelope) = serde_json::from_str::<Json>(value) {
            if let Some(source) = envelope.get_mut("source").and_then(Json::as_object_mut) {
                txn = source.get("txId").cloned();
                for field in ["lsn", "sequence", "txId", "xmin"] {
                    source.insert(field.to_owned(), Json::Null);
                }
            }
            if let Some(transaction) = envelope.get_mut("transaction") {
                *transaction = Json::Null;
            }
            record.value = Some(envelope.to_string());
        }
    }
    (record, txn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(committed_at: Micros, lsn: u64) -> Record {
        Record {
            topic: "shop.public.orders".to_owned(),
            key: Some(r#"{"id":1}"#.to_owned()),
            value: Some(format!(
                r#"{{"after":{{"id":1,"v":{lsn}}},"source":{{"lsn":{lsn},"txId":{committed_at},"ts_us":1}},"op":"u","transaction":{{"id":"{committed_at}:{lsn}"}}}}"#
            )),
            committed_at,
            lsn,
        }
    }

    #[test]
    fn close_commits_are_sometimes_published_out_of_order_and_without_positions() {
        let mut publisher = Publisher::new(SimRng::new(1, 1), 20_000);
        let mut out_of_order = 0;
        for round in 0..50 {
            let base = round * 1_000_000;
            let published = publisher.publish(vec![record(base, 1), record(base + 1_000, 2)]);
            assert_eq!(published.len(), 2);
            if published[0].lsn == 2 {
                out_of_order += 1;
            }
            for message in &published {
                let value: Json =
                    serde_json::from_str(message.value.as_deref().expect("a value")).expect("JSON");
                assert!(value["source"]["lsn"].is_null(), "{value}");
                assert!(value["source"]["txId"].is_null(), "{value}");
                assert!(value["transaction"].is_null(), "{value}");
            }
        }
        assert!(
            out_of_order > 5,
            "commits 1 ms apart, publishes up to 20 ms late: {out_of_order}"
        );
        assert_eq!(publisher.reordered, out_of_order);
    }

    #[test]
    fn a_transactions_records_stay_together_and_far_apart_commits_keep_their_order() {
        let mut publisher = Publisher::new(SimRng::new(2, 1), 20_000);
        let published = publisher.publish(vec![
            record(0, 1),
            record(0, 2),
            record(1_000_000, 3),
            record(2_000_000, 4),
        ]);
        let lsns: Vec<u64> = published.iter().map(|r| r.lsn).collect();
        assert_eq!(lsns, [1, 2, 3, 4]);
        assert_eq!(publisher.reordered, 0);
    }
}
