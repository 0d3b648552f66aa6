//! Random scripted workloads on 2–4 sessions (row reads, locking reads with `FOR UPDATE`,
//! `FOR SHARE` and `SKIP LOCKED`, single- and multi-row updates): every step ends with an outcome (no undetected
//! deadlock, no lost wake-up), every lock is released at the end, and under `serializable` the
//! committed transactions leave the table as some serial order of them would.
//! (Native only: proptest does not run in the browser.)
#![cfg(not(target_arch = "wasm32"))]

use dataflow_lab::sim::database::{Database, Outcome};
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::world::World;
use proptest::prelude::*;

const SETUP: [&str; 2] = [
    "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT)",
    "INSERT INTO accounts VALUES (1, 10), (2, 20), (3, 30)",
];

/// One statement of a transaction: read (plainly or locking the rows), add to, or double an
/// account, or add to several accounts at once.
fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        (1..=3u8).prop_map(|id| format!("SELECT balance FROM accounts WHERE id = {id}")),
        (1..=3u8, 0..4usize).prop_map(|(id, clause)| format!(
            "SELECT balance FROM accounts WHERE id >= {id} ORDER BY id {}",
            [
                "FOR UPDATE",
                "FOR SHARE",
                "FOR NO KEY UPDATE SKIP LOCKED",
                "LIMIT 1 FOR UPDATE"
            ][clause]
        )),
        (1..=3u8, 1..=9u8).prop_map(|(id, k)| format!(
            "UPDATE accounts SET balance = balance + {k} WHERE id <= {id}"
        )),
        (1..=3u8, 1..=9u8).prop_map(|(id, k)| format!(
            "UPDATE accounts SET balance = balance + {k} WHERE id = {id}"
        )),
        (1..=3u8)
            .prop_map(|id| format!("UPDATE accounts SET balance = balance * 2 WHERE id = {id}")),
        Just("SELECT SUM(balance) FROM accounts".to_owned()),
    ]
}

/// Each session: BEGIN, 1–3 statements, then COMMIT (mostly) or ROLLBACK.
fn transaction() -> impl Strategy<Value = Vec<String>> {
    (
        prop::collection::vec(statement(), 1..=3),
        prop::bool::weighted(0.85),
    )
        .prop_map(|(mut statements, commit)| {
            statements.insert(0, "BEGIN".to_owned());
            statements.push(if commit { "COMMIT" } else { "ROLLBACK" }.to_owned());
            statements
        })
}

/// Interleaves the sessions' statements, keeping each session's order, by `choices`.
fn interleave(sessions: &[Vec<String>], choices: &[u8]) -> Vec<(String, String)> {
    let mut next = vec![0; sessions.len()];
    let mut steps = Vec::new();
    let mut choice = choices.iter().cycle();
    while steps.len() < sessions.iter().map(Vec::len).sum() {
        let open: Vec<usize> = (0..sessions.len())
            .filter(|&s| next[s] < sessions[s].len())
            .collect();
        let pick = open[usize::from(*choice.next().unwrap_or(&0)) % open.len()];
        steps.push((format!("T{}", pick + 1), sessions[pick][next[pick]].clone()));
        next[pick] += 1;
    }
    steps
}

fn balances(db: &mut Database) -> Vec<Vec<String>> {
    match db
        .execute("SELECT id, balance FROM accounts ORDER BY id")
        .map(|r| r.outcome)
    {
        Ok(Outcome::Rows { rows, .. }) => rows
            .into_iter()
            .map(|r| r.into_iter().map(|c| c.text).collect())
            .collect(),
        other => panic!("{other:?}"),
    }
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (i, &first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            all.push(tail);
        }
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    #[test]
    fn scripted_workloads_terminate_release_everything_and_serialize(
        sessions in prop::collection::vec(transaction(), 2..=4),
        choices in prop::collection::vec(any::<u8>(), 1..40),
        level in prop::sample::select(vec![
            "read_committed",
            "repeatable_read",
            "serializable",
            "locking_read_committed",
            "two_phase_locking",
        ]),
    ) {
        let mut steps = interleave(&sessions, &choices);
        steps.push(("auditor".to_owned(), "SELECT id, balance FROM accounts ORDER BY id".to_owned()));
        let listed: Vec<String> = steps
            .iter()
            .map(|(s, sql)| format!("  {{ session = \"{s}\", sql = \"{sql}\" }},"))
            .collect();
        let text = format!(
            "format_version = 1\nname = \"random\"\n[[databases]]\nname = \"db\"\nisolation = \"{level}\"\n\
             setup = [\"{}\", \"{}\"]\n[script]\ndatabase = \"db\"\nsteps = [\n{}\n]\n",
            SETUP[0], SETUP[1], listed.join("\n")
        );
        let scenario = Scenario::parse(&text).expect("valid");
        let mut world = World::new(&scenario).expect("builds");
        world.step_until(1);
        let report = world.script_report().expect("a script");

        // Termination: every step has an outcome; nothing is held or waited for.
        for step in &report.steps {
            prop_assert_ne!(&step.outcome, "pending", "step {} never ended", step.index);
        }
        let locks = world.locks("db");
        prop_assert!(locks.held.is_empty() && locks.waiting.is_empty(), "{locks:?}");

        if level == "serializable" || level == "two_phase_locking" {
            // The committed transactions must leave what some serial order of them leaves.
            let final_state = world.database_mut("db").map(balances).expect("db");
            let committed: Vec<usize> = report
                .committed
                .iter()
                .filter_map(|name| name.strip_prefix('T')?.parse::<usize>().ok())
                .map(|n| n - 1)
                .collect();
            let serial = permutations(&committed).into_iter().any(|order| {
                let mut db = Database::new("serial");
                for sql in SETUP {
                    db.execute(sql).expect("setup");
                }
                for session in order {
                    for sql in &sessions[session] {
                        let _ = db.execute(sql);
                    }
                }
                balances(&mut db) == final_state
            });
            prop_assert!(serial, "no serial order of {committed:?} gives {final_state:?}");
        }
    }
}
