//! Forking a world: a copy that shares no mutable state with the original.
//!
//! A world's databases are engines that many connections share (a service's pool, the console,
//! a connector's replication slot, a script's sessions all hold the same `Rc<RefCell<Engine>>`).
//! A copy must keep that sharing *inside* the copy — every connection of the copy on the copy of
//! its engine — while sharing nothing with the original. [`fork`] clones a value inside a scope
//! that maps each engine met to its one copy: the first [`engine`] call for an engine copies it,
//! later calls for the same engine get that copy. The types that hold an engine
//! ([`crate::sim::transaction::Session`], [`crate::sim::database::Connection`],
//! [`crate::sim::database::Database`]) clone through [`engine`], so every other type of the world
//! can simply derive `Clone`.
//!
//! This is how a checkpoint is taken and restored ([`crate::sim::playback`]): a snapshot of the
//! whole simulation at an instant, run on later exactly as the original would be (the trace is
//! the same; the tests at the bottom and in `playback.rs` check it).

use crate::sim::storage::SharedEngine;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

thread_local! {
    /// The engines copied in the fork under way: the original's address → its copy.
    static COPIES: RefCell<Option<HashMap<usize, SharedEngine>>> = const { RefCell::new(None) };
}

/// Clones `value` so that every engine it reaches is copied once, and every holder of one engine
/// in `value` holds the same copy in the clone. Nested calls share the outer call's copies.
pub fn fork<T: Clone>(value: &T) -> T {
    scope(|| value.clone())
}

/// Runs `f` with a map of engine copies: the outermost call makes the map and drops it after.
pub(crate) fn scope<T>(f: impl FnOnce() -> T) -> T {
    let outermost = COPIES.with(|copies| {
        let mut copies = copies.borrow_mut();
        let outermost = copies.is_none();
        if outermost {
            *copies = Some(HashMap::new());
        }
        outermost
    });
    // Drops the map even if `f` unwinds, so that a later fork starts afresh.
    struct Done(bool);
    impl Drop for Done {
        fn drop(&mut self) {
            if self.0 {
                COPIES.with(|copies| *copies.borrow_mut() = None);
            }
        }
    }
    let _done = Done(outermost);
    f()
}

/// The copy of `original` in the fork under way (made now if this is the first holder met).
/// Only meaningful inside [`fork`] (or a clone of a `World` or `Database`, which are forks):
/// a lone clone of a connection would be on a copy of its own, which debug builds refuse.
pub(crate) fn engine(original: &SharedEngine) -> SharedEngine {
    debug_assert!(
        COPIES.with(|copies| copies.borrow().is_some()),
        "an engine's holder cloned outside a fork: use crate::sim::fork::fork"
    );
    scope(|| {
        let address = Rc::as_ptr(original) as usize;
        let known = COPIES.with(|copies| {
            copies
                .borrow()
                .as_ref()
                .and_then(|copies| copies.get(&address).cloned())
        });
        known.unwrap_or_else(|| {
            let copy = Rc::new(RefCell::new(original.borrow().clone()));
            COPIES.with(|copies| {
                if let Some(copies) = copies.borrow_mut().as_mut() {
                    copies.insert(address, Rc::clone(&copy));
                }
            });
            copy
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::database::{Connection, Database};
    use crate::sim::storage::ReadMode;

    #[derive(Clone)]
    struct TwoHolders {
        database: Database,
        other: Connection,
    }

    fn value(database: &mut Database) -> String {
        let result = database
            .execute("SELECT v FROM t WHERE id = 1")
            .expect("reads");
        format!("{:?}", result.outcome)
    }

    fn table() -> Database {
        let mut database = Database::new("db");
        for sql in [
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)",
            "INSERT INTO t VALUES (1, 0)",
        ] {
            database.execute(sql).expect("setup");
        }
        database
    }

    #[test]
    fn holders_of_one_engine_share_its_copy_and_nothing_with_the_original() {
        let database = table();
        let other = database.connect(ReadMode::LatestCommitted);
        let mut original = TwoHolders { database, other };
        let before = value(&mut original.database);
        let mut copy = fork(&original);
        copy.other
            .execute("UPDATE t SET v = 7 WHERE id = 1")
            .expect("updates the copy");
        assert_ne!(
            value(&mut copy.database),
            before,
            "the copy's second connection wrote to the engine its database reads"
        );
        assert_eq!(
            value(&mut original.database),
            before,
            "and not to the original's"
        );
    }

    #[test]
    fn each_fork_makes_fresh_copies() {
        let database = table();
        let mut first = fork(&database);
        let mut second = fork(&database);
        let before = value(&mut second);
        first
            .execute("UPDATE t SET v = 7 WHERE id = 1")
            .expect("updates the first copy");
        assert_eq!(value(&mut second), before, "the second copy is its own");
        // A connection forked alone gets a copy of its own engine.
        let mut lone = fork(&database.connect(ReadMode::LatestCommitted));
        lone.execute("UPDATE t SET v = 8 WHERE id = 1")
            .expect("updates");
        let mut original = database;
        assert_eq!(value(&mut original), before);
    }
}
