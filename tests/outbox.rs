//! The outbox pattern end to end over real parts: a service's transaction changes `orders` and
//! writes its domain event into the `outbox` table (then deletes the row again), GlueSQL runs
//! it, the CDC connector reads the change log, and Debezium's outbox event router turns the
//! outbox's change events into domain events: one per committed transaction, none for a rolled
//! back one, in commit order, keyed by the aggregate.

use dataflow_lab::sim::connector::{Connector, ConnectorConfig};
use dataflow_lab::sim::database::Database;
use dataflow_lab::sim::outbox::{self, Routed};
use dataflow_lab::sim::results::Outcome;
use serde_json::json;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn place_order(db: &mut Database, order: i64, commit: bool) {
    let mut connection = db.connect(Default::default());
    let [insert, delete] = outbox::write_statements(
        &format!("evt-{order}"),
        "order",
        &order.to_string(),
        "OrderPlaced",
        &json!({"order_id": order, "total_cents": order * 100}),
    );
    for sql in [
        "BEGIN".to_owned(),
        format!("INSERT INTO orders VALUES ({order}, 'placed')"),
        insert,
        delete,
        if commit { "COMMIT" } else { "ROLLBACK" }.to_owned(),
    ] {
        connection
            .execute(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[test]
fn committed_outbox_rows_become_domain_events_and_rolled_back_ones_do_not() {
    let mut db = Database::new("shop");
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
        .expect("creates");
    db.execute(outbox::CREATE_OUTBOX)
        .expect("creates the outbox");
    let mut config = ConnectorConfig::new("outbox-relay", "shop");
    config.tables = vec![outbox::OUTBOX_TABLE.to_owned()];
    let mut connector = Connector::new(config);
    connector.start(&db, 0).expect("starts");
    for (order, commit) in [(1, true), (2, false), (3, true), (4, true)] {
        place_order(&mut db, order, commit);
    }
    let mut records = Vec::new();
    for poll in 1..=5 {
        records.extend(connector.poll(&db, poll * 1_000));
    }
    assert!(
        records.iter().all(|r| r.topic == "shop.public.outbox"),
        "only the outbox is captured"
    );
    let mut events = Vec::new();
    let mut dropped = 0;
    for record in &records {
        match outbox::route(record).expect("routes") {
            Routed::Event(event) => events.push(event),
            Routed::Dropped => dropped += 1,
            Routed::SkippedUpdate => panic!("no update was made"),
        }
    }
    let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        ["1", "3", "4"],
        "one event per committed order, in commit order"
    );
    assert!(events
        .iter()
        .all(|e| e.topic == "outbox.event.order" && e.event_type == "OrderPlaced"));
    assert_eq!(
        events[1].payload,
        json!({"order_id": 3, "total_cents": 300})
    );
    assert_eq!(events[1].headers()[0], ("id", "evt-3"));
    assert!(dropped >= 3, "each cleanup delete is dropped ({dropped})");
    let left = db.execute("SELECT id FROM outbox").expect("reads");
    let Outcome::Rows { rows, .. } = &left.outcome else {
        panic!("a query returns rows: {left:?}");
    };
    assert!(rows.is_empty(), "the outbox table stays empty: {rows:?}");
}
