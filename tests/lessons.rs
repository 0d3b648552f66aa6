//! Every built-in lesson's expectations hold on seeds 1 to 5 in every mode they name, and each
//! lesson has an expectation that fails when the mechanism it teaches is switched off — so a
//! lesson cannot silently stop showing what it says.

use dataflow_lab::sim::builtin;
use dataflow_lab::sim::check::{check_run, modes_to_check, passed};
use dataflow_lab::sim::expectation::Status;
use dataflow_lab::sim::scenario::Scenario;

fn lesson(name: &str) -> (String, Scenario) {
    let text = builtin::scenario_text(name).unwrap_or_else(|| panic!("no built-in {name}"));
    let scenario = Scenario::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    (text.to_owned(), scenario)
}

/// `dataflow-lab check NAME --seeds 1..5`, every mode the lesson's expectations name.
fn holds_on_seeds_1_to_5(name: &str) {
    let (_, scenario) = lesson(name);
    assert!(!scenario.expect.is_empty(), "{name} has no expectations");
    for mode in modes_to_check(&scenario) {
        for seed in 1..=5 {
            let verdicts = check_run(&scenario, mode, seed)
                .unwrap_or_else(|e| panic!("{name} in {}: {e}", mode.name()));
            assert!(
                !verdicts.is_empty(),
                "{name} in {}: nothing checked",
                mode.name()
            );
            for verdict in verdicts {
                assert!(
                    passed(&verdict),
                    "{name} in {}, seed {seed}: {} — {} ({:?})",
                    mode.name(),
                    verdict.that,
                    verdict.measured,
                    verdict.status
                );
            }
        }
    }
}

/// The lesson with `replacements` made to its text (the mechanism switched off) fails the
/// expectation `that` (in the lesson's own mode, its own seed).
fn fails_without_its_mechanism(name: &str, replacements: &[(&str, &str)], that: &str) {
    let (mut text, _) = lesson(name);
    for (from, to) in replacements {
        assert!(text.contains(from), "{name} has no {from:?} to replace");
        text = text.replacen(from, to, 1);
    }
    let scenario = Scenario::parse(&text).unwrap_or_else(|e| panic!("{name} switched off: {e}"));
    let verdicts = check_run(&scenario, scenario.mode, scenario.seed).expect("runs");
    let verdict = verdicts
        .iter()
        .find(|v| v.that == that)
        .unwrap_or_else(|| panic!("{name} has no expectation {that:?} in its own mode"));
    assert_eq!(
        verdict.status,
        Status::Fail,
        "{name} with {replacements:?}: {that} — {}",
        verdict.measured
    );
    // And with the mechanism on, the same expectation holds (with the lesson's own seed).
    let (_, on) = lesson(name);
    let verdicts = check_run(&on, on.mode, on.seed).expect("runs");
    assert!(verdicts.iter().any(|v| v.that == that && passed(v)));
}

macro_rules! lessons {
    ($($test:ident: $name:literal, off: [$(($from:literal, $to:literal)),*], fails: $that:literal;)*) => {
        mod hold_on_seeds_1_to_5 {
            $(#[test] fn $test() { super::holds_on_seeds_1_to_5($name) })*
        }
        mod fail_without_their_mechanism {
            $(#[test] fn $test() {
                super::fails_without_its_mechanism($name, &[$(($from, $to)),*], $that)
            })*
        }
        #[test]
        fn every_built_in_scenario_is_a_checked_lesson() {
            let checked = [$($name),*];
            for (name, _) in builtin::SCENARIOS {
                assert!(checked.contains(name), "{name} is not checked here");
            }
        }
    };
}

lessons! {
    shop: "shop",
        // Neither heavy reader runs.
        off: [
            ("name = \"find_unbilled\"\n", "name = \"find_unbilled\"\nenabled = false\n"),
            ("name = \"revenue_report\"\n", "name = \"revenue_report\"\nenabled = false\n")
        ],
        fails: "max(orders) >= 20 * p50(orders)";
    shared_basics: "shared-basics",
        // Nobody polls: the table stops being a channel.
        off: [("name = \"invoice_new_orders\"\n", "name = \"invoice_new_orders\"\nenabled = false\n")],
        fails: "query(shop, \"SELECT COUNT(*) FROM orders o LEFT JOIN invoices i ON i.order_id = o.id WHERE i.order_id IS NULL\") <= 5";
    tight_coupling: "tight-coupling",
        // billing reads no status: the rename leaves it alone.
        off: [("LEFT JOIN invoices i ON i.order_id = o.id WHERE i.order_id IS NULL AND o.status = 'paid'", "LEFT JOIN invoices i ON i.order_id = o.id WHERE i.order_id IS NULL")],
        fails: "errors(billing, schema) > 0 after rename";
    two_writers: "two-writers",
        // warehouse ships only paid orders.
        off: [("SELECT id FROM orders WHERE shipped_at IS NULL ORDER BY id LIMIT 1", "SELECT id FROM orders WHERE shipped_at IS NULL AND status = 'paid' ORDER BY id LIMIT 1")],
        fails: "query(shop, \"SELECT COUNT(*) FROM orders WHERE shipped_at IS NOT NULL AND (paid_at IS NULL OR paid_at > shipped_at)\") > 0";
    internal_column: "internal-column",
        // marketing reads the published fact (shipped_at), not the internal code.
        off: [("WHERE e.order_id IS NULL AND o.status_code = 3 ORDER BY", "WHERE e.order_id IS NULL AND o.shipped_at IS NOT NULL ORDER BY")],
        fails: "query(shop, \"SELECT COUNT(*) FROM emails e JOIN orders o ON o.id = e.order_id WHERE e.sent_at >= 15000000 AND (o.shipped_at IS NULL OR o.shipped_at > e.sent_at)\") > 10";
    lost_field: "lost-field",
        // crm written for the new structure: it carries the phone over.
        off: [
            ("SELECT id, name, email FROM customers WHERE id = {cid}", "SELECT id, name, email, phone FROM customers WHERE id = {cid}"),
            ("INSERT INTO customers (id, name, email) VALUES ({row.id}, {row.name}, {row.email})", "INSERT INTO customers (id, name, email, phone) VALUES ({row.id}, {row.name}, {row.email}, {row.phone})")
        ],
        fails: "query(shop, \"SELECT COUNT(*) FROM customers WHERE phone IS NULL AND id IN (SELECT customer_id FROM phone_log)\") > 0";
    compat_view: "compat-view",
        // No view: the old name is gone, and the readers break.
        off: [("CREATE VIEW orders (id, email, status, total_cents) AS SELECT id, email, state, total_cents FROM orders_v2", "SELECT 1")],
        fails: "errors(billing) == 0";
    expand_contract: "expand-contract",
        // A big-bang rename instead of the expand: the readers break.
        off: [("sql = \"ALTER TABLE orders ADD COLUMN state TEXT NULL\"", "sql = \"ALTER TABLE orders RENAME COLUMN status TO state\"")],
        fails: "errors(billing) == 0";
    report_vs_writers: "report-vs-writers",
        off: [("isolation = \"two_phase_locking\"", "isolation = \"repeatable_read\"")],
        fails: "lock_wait(orders) > 0";
    replica_reporting: "replica-reporting",
        // No replica: the report runs on the primary (shared mode).
        off: [("mode = \"cdc\"", "mode = \"shared\""), ("modes = [\"cdc\"]\nthat = \"p99(orders.place_order) < 3", "that = \"p99(orders.place_order) < 3")],
        fails: "p99(orders.place_order) < 3 * p50(orders.place_order)";
    as_systems_scale: "as-systems-scale",
        // No rename: the reader never breaks.
        off: [("sql = \"ALTER TABLE orders RENAME COLUMN status TO state\"", "sql = \"SELECT 1\"")],
        fails: "errors(reader, schema) > 0 after rename";
    evolution_path: "evolution-path",
        // No rename: nobody breaks, in any stage.
        off: [("sql = \"ALTER TABLE orders RENAME COLUMN total_cents TO amount_cents\"", "sql = \"SELECT 1\"")],
        fails: "errors(billing, schema) > 0 after rename";
    reporting_index: "reporting-index",
        // No indexes: the inserts cost what they did.
        off: [("CREATE INDEX orders_status ON orders (status);\nCREATE INDEX orders_customer ON orders (customer_id);\nCREATE INDEX orders_total ON orders (total_cents)", "SELECT 1")],
        fails: "exec_time(orders.place_order) after indexes >= 1.1 * exec_time(orders.place_order) before indexes";
    alter_queue: "alter-queue",
        off: [("sql = \"ALTER TABLE orders ADD COLUMN note TEXT NULL\"", "sql = \"SELECT 1\"")],
        fails: "lock_wait(storefront) during migration > 100ms";
    lost_update: "lost-update",
        off: [("isolation = \"read_committed\"", "isolation = \"repeatable_read\"")],
        fails: "query(bank, \"SELECT balance FROM accounts WHERE id = 1\") == 120";
    deadlock: "deadlock",
        // Transfer B locks the rows in the same order as A: no cycle.
        off: [
            ("balance - 20 WHERE id = 2", "balance - 20 WHERE id = 1"),
            ("balance + 20 WHERE id = 1", "balance + 20 WHERE id = 2")
        ],
        fails: "deadlocks(bank) == 1";
    cdc_basics: "cdc-basics",
        off: [("action = \"stop_connector\"", "action = \"start_connector\"")],
        fails: "staleness_max(analytics.revenue_by_status) >= 5s";
    etl_vs_cdc: "etl-vs-cdc",
        off: [("interval = \"10s\"", "interval = \"1s\"")],
        fails: "staleness_max(dashboard.orders) >= 5s";
    capture_methods: "capture-methods",
        off: [("capture = \"log\"", "capture = \"query\"")],
        fails: "missed(orders-connector) == 0";
    dual_write: "dual-write",
        off: [("capture = \"dual_write\"", "capture = \"log\"")],
        fails: "diff(billing.orders) > 0";
    outbox_contract: "outbox-contract",
        // (Adding a column would break billing too: its copy has no column for it.)
        off: [("ALTER TABLE orders RENAME COLUMN total_cents TO amount_cents", "SELECT 1")],
        fails: "failed_batches(billing) > 0";
    db_queue: "db-queue",
        off: [("ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED\"", "ORDER BY id LIMIT 1\"")],
        fails: "query(shop, \"SELECT COUNT(*) - COUNT(DISTINCT job_id) FROM job_runs WHERE queue = 'skip_locked'\") == 0";
    queue_polling: "queue-polling",
        // The fast poller slowed down to the slow one's rate: its polls are rarely wasted.
        off: [("rate_per_s = 25", "rate_per_s = 1")],
        fails: "found_nothing(poll_40ms) >= 0.6 * ops(poll_40ms)";
    outbox_relays: "outbox-relays",
        off: [("relay = \"polling\"", "relay = \"log\"")],
        fails: "source_cost(orders-connector) > 0";
}

/// `as-systems-scale` swept over its readers: the one rename breaks every reader, so the
/// services broken follow the readers' count; the lock waits and the orders' tail latency grow
/// with them.
#[test]
fn as_systems_scale_the_damage_grows_with_the_readers() {
    use dataflow_lab::sim::sweep::sweep;
    let (_, scenario) = lesson("as-systems-scale");
    let (axis, watch) = scenario
        .sweep
        .as_ref()
        .expect("a [sweep]")
        .axis(&scenario)
        .expect("a valid sweep");
    let run = || {
        sweep(
            &scenario,
            &axis,
            &watch,
            scenario.seed,
            15 * 1_000_000,
            |_, _| {},
        )
        .expect("every point runs")
    };
    let swept = run();
    let broken: Vec<usize> = swept.points.iter().map(|p| p.services_broken).collect();
    assert_eq!(broken, vec![1, 2, 4, 8], "{swept}");
    let (first, last) = (&swept.points[0], &swept.points[swept.points.len() - 1]);
    assert!(last.lock_wait_ms >= 2.0 * first.lock_wait_ms, "{swept}");
    assert!(last.p99_ms > first.p99_ms, "{swept}");
    assert!(last.core_utilisation > first.core_utilisation, "{swept}");
    // One seed, one sweep: the same figures again.
    assert_eq!(swept, run());
}
