//! The lock manager under random workloads of 2–4 transactions: no two conflicting locks are
//! ever held together, no request waits without a reason (no lost wake-up), no cycle of waits
//! survives (deadlocks are always caught), and when every transaction ends nothing is left.
//! (Native only: proptest does not run in the browser.)
#![cfg(not(target_arch = "wasm32"))]

use dataflow_lab::sim::locks::{
    Acquired, LockManager, LockMode, Owner, RequestId, Resource, RowLockMode, TableLockMode,
    WaitPolicy,
};
use gluesql::core::data::Key;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
enum Step {
    Acquire {
        owner: Owner,
        resource: u8,
        mode: u8,
    },
    End {
        owner: Owner,
    },
    Timeout {
        owner: Owner,
    },
}

fn resource(i: u8) -> Resource {
    match i % 4 {
        0 => Resource::Table("orders".into()),
        1 => Resource::Table("invoices".into()),
        n => Resource::Row("orders".into(), Key::I64(i64::from(n))),
    }
}

fn mode(resource: &Resource, i: u8) -> LockMode {
    match resource {
        Resource::Table(_) => LockMode::Table(TableLockMode::ALL[usize::from(i) % 8]),
        Resource::Row(..) => LockMode::Row(RowLockMode::ALL[usize::from(i) % 4]),
    }
}

fn step(owners: u64) -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (1..=owners, 0..4u8, 0..8u8).prop_map(|(owner, resource, mode)| Step::Acquire { owner, resource, mode }),
        2 => (1..=owners).prop_map(|owner| Step::End { owner }),
        1 => (1..=owners).prop_map(|owner| Step::Timeout { owner }),
    ]
}

fn check_invariants(locks: &LockManager) {
    // Safety: no two owners hold conflicting locks on one resource.
    let held = locks.held();
    for (i, (r1, a)) in held.iter().enumerate() {
        for (r2, b) in &held[i + 1..] {
            assert!(
                !(r1 == r2 && a.owner != b.owner && a.mode.conflicts_with(b.mode)),
                "{} and {} both hold {r1}: {} and {}",
                a.owner,
                b.owner,
                a.mode,
                b.mode
            );
        }
    }
    // Liveness: every waiter waits for someone.
    let edges = locks.waits_for();
    let waiting_owners: BTreeSet<Owner> = locks.waiting().iter().map(|(_, w)| w.owner).collect();
    let with_reason: BTreeSet<Owner> = edges.iter().map(|(w, _)| *w).collect();
    assert_eq!(
        waiting_owners, with_reason,
        "a request waits for nobody (lost wake-up)"
    );
    // No cycle of waits survives.
    let mut graph: BTreeMap<Owner, Vec<Owner>> = BTreeMap::new();
    for (w, b) in &edges {
        graph.entry(*w).or_default().push(*b);
    }
    for &start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut frontier = vec![start];
        while let Some(node) = frontier.pop() {
            for &next in graph.get(&node).map(Vec::as_slice).unwrap_or_default() {
                assert_ne!(next, start, "an undetected deadlock through {start}");
                if seen.insert(next) {
                    frontier.push(next);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_workloads_stay_safe_and_end_with_nothing_held(
        owners in 2..=4u64,
        steps in prop::collection::vec(step(4), 1..80),
    ) {
        let mut locks = LockManager::default();
        // Each owner waits for at most one request at a time, as a session does.
        let mut waiting: BTreeMap<Owner, RequestId> = BTreeMap::new();
        let mut now = 0;
        for step in steps {
            now += 10;
            match step {
                Step::Acquire { owner, resource: r, mode: m } => {
                    let owner = (owner - 1) % owners + 1;
                    if waiting.contains_key(&owner) {
                        continue;
                    }
                    let resource = resource(r);
                    let mode = mode(&resource, m);
                    match locks.acquire(owner, resource, mode, now, None, WaitPolicy::Wait) {
                        Acquired::Waiting { request, blockers } => {
                            prop_assert!(!blockers.contains(&owner));
                            waiting.insert(owner, request);
                        }
                        Acquired::Deadlock { cycle } => {
                            prop_assert_eq!(cycle[0], owner);
                            // The victim aborts.
                            for w in locks.release_all(owner, now) {
                                waiting.remove(&w.owner);
                            }
                        }
                        Acquired::Granted | Acquired::WouldWait { .. } => {}
                    }
                }
                Step::End { owner } => {
                    let owner = (owner - 1) % owners + 1;
                    waiting.remove(&owner);
                    for w in locks.release_all(owner, now) {
                        prop_assert_eq!(waiting.remove(&w.owner), Some(w.request));
                    }
                }
                Step::Timeout { owner } => {
                    let owner = (owner - 1) % owners + 1;
                    if let Some(request) = waiting.remove(&owner) {
                        for w in locks.cancel(request, now) {
                            prop_assert_eq!(waiting.remove(&w.owner), Some(w.request));
                        }
                    }
                }
            }
            check_invariants(&locks);
        }
        // Every transaction ends (commit or abort), in order, until nothing is left.
        for _ in 0..owners {
            for owner in 1..=owners {
                for w in locks.release_all(owner, now) {
                    waiting.remove(&w.owner);
                }
                check_invariants(&locks);
            }
        }
        prop_assert!(locks.is_idle(), "locks left: {:?} / {:?}", locks.held(), locks.waiting());
    }
}
