//! A database node: one database (storage engine) plus the resources that make load visible —
//! cores, a connection limit and a cost model.
//!
//! Models a database server as a multi-server queue: at most `cores` statements execute at once,
//! the others wait in FIFO order for a core, and each statement holds its core for the time its
//! real work costs (rows read and written, as the storage counted them). Simplification: a
//! statement's effects are applied when it starts executing; its cost is paid after.

use crate::sim::clock::Micros;
use crate::sim::cost::CostModel;
use crate::sim::database::Database;
use crate::sim::lock_plan::Isolation;
use crate::sim::locks::LockManager;
use std::collections::VecDeque;

/// What a node has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// Statements executed.
    pub statements: u64,
    /// Rows read by them.
    pub rows_read: u64,
    /// Rows written by them.
    pub rows_written: u64,
    /// Core-microseconds spent executing.
    pub busy_us: u64,
    /// The longest the core queue has been.
    pub max_queue: usize,
}

/// A database node.
#[derive(Debug, Clone)]
pub struct DatabaseNode {
    /// The node's name.
    pub name: String,
    /// Its database.
    pub db: Database,
    /// How many statements execute at once.
    pub cores: u32,
    /// How many connections it accepts.
    pub max_connections: u32,
    /// Connections handed out so far.
    pub connections: u32,
    /// Its cost model.
    pub cost: CostModel,
    /// Statements executing now.
    pub busy: u32,
    /// Operations waiting for a core, first come first served (by operation id).
    pub queue: VecDeque<u64>,
    /// What it has done.
    pub counters: NodeCounters,
    /// Its locks.
    pub locks: LockManager,
    /// Its isolation level.
    pub isolation: Isolation,
}

impl DatabaseNode {
    /// A node over `db`.
    pub fn new(
        name: String,
        db: Database,
        cores: u32,
        max_connections: u32,
        cost: CostModel,
    ) -> Self {
        Self {
            name,
            db,
            cores,
            max_connections,
            connections: 0,
            cost,
            busy: 0,
            queue: VecDeque::new(),
            counters: NodeCounters::default(),
            locks: LockManager::default(),
            isolation: Isolation::default(),
        }
    }

    /// Whether a core is free.
    pub fn has_free_core(&self) -> bool {
        self.busy < self.cores
    }

    /// Takes a core for a statement that will run for `cost`, doing `rows_read`/`rows_written`.
    pub fn start(&mut self, cost: Micros, rows_read: u64, rows_written: u64) {
        self.busy += 1;
        self.counters.statements += 1;
        self.counters.rows_read += rows_read;
        self.counters.rows_written += rows_written;
        self.counters.busy_us += cost;
    }

    /// Gives a core back.
    pub fn finish(&mut self) {
        self.busy = self.busy.saturating_sub(1);
    }

    /// Queues an operation for a core.
    pub fn enqueue(&mut self, op: u64) {
        self.queue.push_back(op);
        self.counters.max_queue = self.counters.max_queue.max(self.queue.len());
    }

    /// The share of core time used over `elapsed`, from 0 to 1.
    pub fn utilisation(&self, elapsed: Micros) -> f64 {
        if elapsed == 0 {
            return 0.0;
        }
        (self.counters.busy_us as f64 / (elapsed as f64 * f64::from(self.cores))).min(1.0)
    }
}
