//! Lock owners and the actors behind them.
//!
//! A lock manager knows transactions only by number (an [`Owner`], PostgreSQL's virtual
//! transaction id). The world has several kinds of actors holding and waiting for locks on one
//! database — services' operations, the console session, scripted sessions — and when a lock is
//! released the manager says whose waiting request it granted. The [`OwnerRegistry`] is the one
//! place that hands out owner numbers and says which actor each belongs to, so that every
//! wake-up reaches the actor that waits, whichever actor released the lock.

use crate::sim::locks::Owner;
use std::collections::BTreeMap;

/// Who a lock owner is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A transaction of a service's (or the timeline's) operation, by its in-flight id.
    Operation(u64),
    /// The console session of database node `node`; `running` is the in-flight id of the
    /// statements it runs now, if any (its transaction may outlive them).
    Console {
        /// The database node's index.
        node: usize,
        /// What it runs now.
        running: Option<u64>,
    },
    /// A scripted session, by name.
    Session(String),
}

/// Hands out lock owners and remembers the actor behind each.
#[derive(Debug, Clone, Default)]
pub struct OwnerRegistry {
    next: Owner,
    actors: BTreeMap<Owner, Actor>,
}

impl OwnerRegistry {
    /// A new owner number for `actor`. Numbers are never reused within a run.
    pub fn allocate(&mut self, actor: Actor) -> Owner {
        self.next += 1;
        self.actors.insert(self.next, actor);
        self.next
    }

    /// Forgets `owner` (its transaction is over and it holds nothing).
    pub fn retire(&mut self, owner: Owner) {
        self.actors.remove(&owner);
    }

    /// The actor behind `owner`, if it is still known.
    pub fn actor(&self, owner: Owner) -> Option<&Actor> {
        self.actors.get(&owner)
    }

    /// The actor behind `owner`, to note what it runs now.
    pub fn actor_mut(&mut self, owner: Owner) -> Option<&mut Actor> {
        self.actors.get_mut(&owner)
    }

    /// The in-flight operation `owner` runs now: its own for an operation, the current one for
    /// a console; none for a scripted session (the script runner wakes those).
    pub fn operation_of(&self, owner: Owner) -> Option<u64> {
        match self.actors.get(&owner)? {
            Actor::Operation(id) => Some(*id),
            Actor::Console { running, .. } => *running,
            Actor::Session(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_unique_and_name_their_actor() {
        let mut registry = OwnerRegistry::default();
        let console = registry.allocate(Actor::Console {
            node: 0,
            running: None,
        });
        let session = registry.allocate(Actor::Session("T1".into()));
        let op = registry.allocate(Actor::Operation(7));
        assert!(console != session && session != op && console != op);
        assert_eq!(registry.operation_of(op), Some(7));
        assert_eq!(registry.operation_of(session), None);
        assert_eq!(registry.operation_of(console), None);
        if let Some(Actor::Console { running, .. }) = registry.actor_mut(console) {
            *running = Some(9);
        }
        assert_eq!(registry.operation_of(console), Some(9));
        registry.retire(op);
        assert_eq!(registry.actor(op), None);
        let again = registry.allocate(Actor::Operation(8));
        assert!(again > op, "numbers are not reused");
    }
}
