//! The console inside the simulation: statements typed at a database's console run in one
//! session whose transaction spans commands, each with its entry and status.

use super::World;
use crate::sim::clock::Micros;

/// How many console entries the world keeps.
pub const CONSOLE_KEPT: usize = 200;

/// Where a statement typed at the console stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsoleStatus {
    /// Not started yet (an earlier statement is running).
    Queued,
    /// Taking its locks (waiting for one, or for a core).
    Running,
    /// Waiting for a lock held or wanted by these.
    WaitingForLock(Vec<String>),
    /// Done, with its result or the error's message.
    Done(Result<crate::sim::database::StatementResult, String>),
}

/// One statement typed at the simulation's console.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleEntry {
    /// Its number.
    pub id: u64,
    /// The database.
    pub database: String,
    /// The statement.
    pub sql: String,
    /// When it was typed.
    pub submitted: Micros,
    /// When it finished.
    pub finished: Option<Micros>,
    /// Where it stands.
    pub status: ConsoleStatus,
}

impl World {
    /// The console entry of the operation's running statement, if it is console work.
    pub(super) fn console_entry_of(&self, id: u64) -> Option<u64> {
        let op = self.in_flight.get(&id)?;
        op.console.as_ref()?.entries.get(op.next).copied()
    }

    pub(super) fn set_console_status(&mut self, id: u64, status: ConsoleStatus) {
        let Some(entry) = self.console_entry_of(id) else {
            return;
        };
        let now = self.now;
        if let Some(line) = self.console.iter_mut().find(|e| e.id == entry) {
            if matches!(status, ConsoleStatus::Done(_)) {
                line.finished = Some(now);
            }
            line.status = status;
        }
    }

    /// The console's statements, oldest first (at most [`CONSOLE_KEPT`]).
    pub fn console_entries(&self) -> impl Iterator<Item = &ConsoleEntry> {
        self.console.iter()
    }

    /// The console session's transaction state on database `name`.
    pub fn console_state(&self, name: &str) -> Option<crate::sim::database::TransactionState> {
        let index = self.nodes.iter().position(|n| n.name == name)?;
        let (service, _) = self.console_services.get(index)?;
        Some(self.services[*service].pool.first()?.transaction_state())
    }
}
