//! The narration ("what happened") and the lock events it is made from: lock waits, deadlocks,
//! failures and actions in plain words.

use super::World;
use crate::sim::clock::{Micros, SECOND};
use crate::sim::locks::Owner;
use serde::{Deserialize, Serialize};

/// How many lines of narration the world keeps for the page's log of what happened.
pub const NARRATION_KEPT: usize = 500;

/// What kind of thing happened, for the narration's filter and icons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NarrationKind {
    /// A statement waited for a lock (and got it).
    LockWait,
    /// A deadlock was found and a victim aborted.
    Deadlock,
    /// An operation failed (timeout, lock timeout, conflict, SQL error).
    Error,
    /// An operation failed because its SQL names a table or column that is gone.
    SchemaBreak,
    /// A timeline action or a user's command, and its outcome.
    Action,
}

/// One line of the narration: "12.4 s — billing waited 340 ms for ROW EXCLUSIVE on orders, held
/// by reporting".
#[derive(Debug, Clone, PartialEq)]
pub struct NarrationLine {
    /// When it (first) happened.
    pub at: Micros,
    /// When it last happened (repeats within a second are counted, not listed).
    pub last_at: Micros,
    /// What kind.
    pub kind: NarrationKind,
    /// The sentence.
    pub text: String,
    /// The statement involved, if any.
    pub sql: Option<String>,
    /// How many times (1, or more for repeats).
    pub count: u64,
    /// For lock waits: the longest of them.
    pub longest_wait: Micros,
}

/// How many lock events the world keeps for the page's narration.
pub const LOCK_EVENTS_KEPT: usize = 1_000;

/// What happened to a lock request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEventKind {
    /// Granted at once.
    Granted,
    /// Queued behind other transactions.
    Waited,
    /// Granted after waiting.
    GrantedAfterWait,
    /// Every lock of a transaction released (commit or abort).
    Released,
    /// Gave up after the service's `lock_timeout`.
    TimedOut,
    /// Aborted as a deadlock victim.
    Deadlock,
}

/// One lock event, for the page's narration ("billing waited 340 ms for ROW EXCLUSIVE on
/// orders, held by reporting").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEvent {
    /// When (simulated µs).
    pub at: Micros,
    /// The database.
    pub database: String,
    /// What happened.
    pub kind: LockEventKind,
    /// Who asked: the service and operation number, or `script`.
    pub who: String,
    /// The table or row (empty for `Released` and `TimedOut`).
    pub resource: String,
    /// The mode (empty for `Released` and `TimedOut`).
    pub mode: String,
    /// Who it waited for (for `Waited`), or the cycle (for `Deadlock`).
    pub others: Vec<String>,
    /// How long it waited (for `GrantedAfterWait`).
    pub waited: Micros,
}

impl World {
    pub(super) fn lock_event(
        &mut self,
        node: usize,
        kind: LockEventKind,
        owner: Owner,
        lock: Option<(&crate::sim::locks::Resource, crate::sim::locks::LockMode)>,
        others: &[Owner],
        waited: Micros,
    ) {
        let event = LockEvent {
            at: self.now,
            database: self.nodes[node].name.clone(),
            kind,
            who: self.who(owner),
            resource: lock.map(|(r, _)| r.to_string()).unwrap_or_default(),
            mode: lock.map(|(_, m)| m.to_string()).unwrap_or_default(),
            others: others.iter().map(|o| self.who(*o)).collect(),
            waited,
        };
        match kind {
            LockEventKind::Waited => {
                self.blocked_by.insert(owner, event.others.clone());
            }
            LockEventKind::GrantedAfterWait => {
                let blockers = self.blocked_by.remove(&owner).unwrap_or_default();
                if waited >= 1_000 {
                    let text = format!(
                        "{} waited for {} on {}, blocked by {}",
                        service_of(&event.who),
                        event.mode,
                        event.resource,
                        names(&blockers),
                    );
                    self.narrate(NarrationKind::LockWait, text, None, waited);
                }
            }
            LockEventKind::Deadlock => {
                self.blocked_by.remove(&owner);
                let text = format!(
                    "deadlock on {}: {} wait for each other — {} is aborted",
                    event.database,
                    event.others.join(" → "),
                    event.who,
                );
                self.narrate(NarrationKind::Deadlock, text, None, 0);
            }
            LockEventKind::Released | LockEventKind::TimedOut => {
                self.blocked_by.remove(&owner);
            }
            LockEventKind::Granted => {}
        }
        self.lock_events.push_back(event);
        while self.lock_events.len() > LOCK_EVENTS_KEPT {
            self.lock_events.pop_front();
        }
    }

    /// Adds a line to the narration; the same line again within a second is counted instead.
    pub(super) fn narrate(
        &mut self,
        kind: NarrationKind,
        text: String,
        sql: Option<String>,
        waited: Micros,
    ) {
        let now = self.now;
        let repeat =
            self.narration.iter_mut().rev().take(8).find(|h| {
                h.kind == kind && h.text == text && now.saturating_sub(h.last_at) <= SECOND
            });
        if let Some(line) = repeat {
            line.count += 1;
            line.last_at = now;
            line.longest_wait = line.longest_wait.max(waited);
            return;
        }
        self.narration.push_back(NarrationLine {
            at: now,
            last_at: now,
            kind,
            text,
            sql,
            count: 1,
            longest_wait: waited,
        });
        while self.narration.len() > NARRATION_KEPT {
            self.narration.pop_front();
        }
    }

    /// The narration: lock waits of a millisecond or more, deadlocks, failures (repeats within
    /// a second counted on one line), actions and their outcomes; oldest first, at most
    /// [`NARRATION_KEPT`].
    pub fn narration(&self) -> impl Iterator<Item = &NarrationLine> {
        self.narration.iter()
    }

    /// The most recent lock events (at most [`LOCK_EVENTS_KEPT`]), oldest first.
    pub fn lock_events(&self) -> impl Iterator<Item = &LockEvent> {
        self.lock_events.iter()
    }
}

/// The service part of a lock owner's name ("billing #12" → "billing").
fn service_of(who: &str) -> &str {
    who.split(" #").next().unwrap_or(who)
}

/// Names for a sentence: services once each, "a, b and c".
fn names(who: &[String]) -> String {
    let mut list: Vec<&str> = Vec::new();
    for name in who.iter().map(|w| service_of(w)) {
        if !list.contains(&name) {
            list.push(name);
        }
    }
    match list.as_slice() {
        [] => "nobody".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
