//! Services: named workloads with a connection pool and operations that arrive at random.
//!
//! Models an application service as load-testing tools and queueing theory see it: each
//! operation arrives as a Poisson process at its rate, takes a connection from the service's
//! pool (waiting, first come first served, when all are busy), runs its SQL as one transaction,
//! and gives the connection back. Simplification: a service has no CPU of its own; its time is
//! think time between statements.

use crate::sim::acquire::Acquisition;
use crate::sim::clock::Micros;
use crate::sim::database::Connection;
use crate::sim::locks::{LockMode, Owner, RequestId, Resource};
use crate::sim::metrics::{ErrorKind, OperationMetrics};
use crate::sim::params::Param;
use crate::sim::prepared::PreparedCommand;
use crate::sim::rng::SimRng;
use crate::sim::sqlstate::SqlState;
use crate::sim::storage::KeyHint;
use std::collections::VecDeque;

/// One operation of a service at run time.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Its name.
    pub name: String,
    /// Average arrivals per second.
    pub rate_per_s: f64,
    /// Whether new arrivals happen.
    pub enabled: bool,
    /// Time between two statements.
    pub think_time: Micros,
    /// The SQL templates.
    pub statements: Vec<String>,
    /// The templates' parameters, by name.
    pub params: Vec<(String, Param)>,
    /// Draws the gaps between arrivals.
    pub arrivals: SimRng,
    /// Bumped when the rate or state changes, so an arrival scheduled before is ignored.
    pub generation: u64,
    /// What it measured.
    pub metrics: OperationMetrics,
    /// The tables its statements read.
    pub reads: Vec<String>,
    /// The tables its statements write.
    pub writes: Vec<String>,
    /// Its last failure: when, what kind, the message and the statement.
    pub last_error: Option<(Micros, ErrorKind, String, String)>,
    /// When it last succeeded.
    pub last_success: Option<Micros>,
    /// The tables its last schema break concerns (the failing statement's tables that lost a
    /// column it names, or are gone; all its tables if that cannot be told), so the map marks
    /// only those edges broken.
    pub broken_tables: Vec<String>,
}

impl Operation {
    /// The schema error it keeps failing with, if its last outcome was one (its SQL names a
    /// table or column that no longer exists): the broken edge of the topology.
    pub fn broken_by(&self) -> Option<&(Micros, ErrorKind, String, String)> {
        self.last_error.as_ref().filter(|(at, kind, _, _)| {
            *kind == ErrorKind::Schema && self.last_success.is_none_or(|ok| ok < *at)
        })
    }
}

/// A service at run time.
#[derive(Debug, Clone)]
pub struct Service {
    /// Its name.
    pub name: String,
    /// Index of the node it connects to.
    pub node: usize,
    /// Its connections.
    pub pool: Vec<Connection>,
    /// Indexes of the free connections, first free first used.
    pub free: VecDeque<usize>,
    /// Operations waiting for a connection (by operation id), first come first served.
    pub waiting: VecDeque<u64>,
    /// Whether new operations are held back.
    pub paused: bool,
    /// How long an operation may take before it fails with a timeout.
    pub timeout: Micros,
    /// How many times a failed operation is tried again.
    pub retries: u32,
    /// The wait before a retry.
    pub retry_backoff: Micros,
    /// Its operations.
    pub operations: Vec<Operation>,
    /// The tables it may write, in the `owned` mode (`None`: any).
    pub may_write: Option<Vec<String>>,
    /// In the `events` mode, the outbox it writes its domain events into (an owner of evented
    /// tables): its writes then run in a transaction that ends with the events.
    pub outbox: Option<crate::sim::outbox_writer::OutboxWriter>,
    /// Its network link to its database: every statement pays a round trip over it.
    pub link: crate::sim::network::LinkId,
}

/// An actor to tell when an operation it started ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// The CDC consumer with this index applied (or failed to apply) a batch.
    ConsumerBatch {
        /// The consumer.
        consumer: usize,
        /// Which of its batches (a batch dropped by a rebuild must not settle the next one).
        batch: u64,
    },
    /// A query- or trigger-based CDC connector's poll of its source ended.
    CapturePoll {
        /// The connector.
        connector: usize,
        /// Its generation when the poll started (a restart makes the poll stale).
        generation: u64,
    },
    /// The polling relay's query for unpublished outbox rows ended.
    RelayPoll {
        /// The relay's connector.
        connector: usize,
        /// Its generation when the poll started (a crash makes the poll stale).
        generation: u64,
    },
    /// The polling relay's mark of the rows it published ended.
    RelayMark {
        /// The relay's connector.
        connector: usize,
    },
    /// The ETL job's extract (the reads on the source) of run `run` ended.
    EtlExtract {
        /// The job's run.
        run: u64,
    },
    /// The ETL job's load (the writes to the analytics database) of run `run` ended.
    EtlLoad {
        /// The job's run.
        run: u64,
    },
}

impl Service {
    /// Operations in progress: holding a connection.
    pub fn busy_connections(&self) -> usize {
        self.pool.len() - self.free.len()
    }
}

/// Statements typed at the simulation's console: one console entry per statement.
#[derive(Debug, Default, Clone)]
pub struct ConsoleWork {
    /// The entries' ids, one per statement.
    pub entries: Vec<u64>,
    /// The running statement's result, until it ends.
    pub result: Option<Result<crate::sim::database::StatementResult, String>>,
}

/// One arrival of an operation, from arrival to completion or failure.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// The service.
    pub service: usize,
    /// The operation within the service.
    pub operation: usize,
    /// When it arrived.
    pub arrived: Micros,
    /// When it times out.
    pub deadline: Micros,
    /// Attempts so far (0 for the first).
    pub attempt: u32,
    /// The statements to run, rendered (with `BEGIN` run at connect and `COMMIT` appended when
    /// there are several).
    pub sql: Vec<String>,
    /// Whether it runs as an explicit transaction.
    pub explicit: bool,
    /// The next statement to run.
    pub next: usize,
    /// Its connection, once it has one.
    pub connection: Option<usize>,
    /// Whether a statement of it wrote rows.
    pub wrote: bool,
    /// The error of the statement that just ran, if it failed: its code and message.
    pub failure: Option<(SqlState, String)>,
    /// The message of the last error, for the report.
    pub last_error: Option<String>,
    /// The PostgreSQL code of the last error, when it was a database error.
    pub last_state: Option<SqlState>,
    /// The timeline entry (index in the report) this operation carries out, if any.
    pub action: Option<usize>,
    /// Its transaction's identity in the lock manager.
    pub owner: Owner,
    /// The running statement's locks, being taken.
    pub acquisition: Acquisition,
    /// The running statement, parsed when it started.
    pub prepared: Option<PreparedCommand>,
    /// The rows a locking `SELECT` locked: it reads only these.
    pub only_rows: Option<KeyHint>,
    /// When the running statement hits its `statement_timeout`.
    pub statement_deadline: Option<Micros>,
    /// For console work: the console entry of each statement, and the running statement's
    /// result (kept from execution until the statement ends).
    pub console: Option<ConsoleWork>,
    /// Locks to release when the running statement ends.
    pub statement_locks: Vec<(Resource, LockMode)>,
    /// The lock request it waits for, and since when.
    pub waiting_lock: Option<(RequestId, Micros)>,
    /// Who to tell when it ends (an actor that ran SQL through the client, such as a CDC
    /// consumer applying a batch).
    pub notify: Option<Notify>,
    /// The results of its statements, kept when the actor that started it wants them (an ETL
    /// extract); `None` otherwise.
    pub captured: Option<Vec<crate::sim::database::Outcome>>,
    /// The core time its statements took so far, every attempt.
    pub core_time: Micros,
    /// The core time its statements took in this attempt (what `exec_time` counts).
    pub attempt_core: Micros,
    /// Whether its transaction's locks are released: at the server, as its last statement or
    /// a failure ends the transaction, before the reply crosses back to the client.
    pub released: bool,
    /// The first row its last query returned (column, SQL literal), for the statements that
    /// use it (`{row.id}`): `None` before any query, `Some(None)` when the query found nothing.
    pub row: Option<Option<Vec<(String, String)>>>,
    /// Its statements as rendered at arrival, kept when some take `{row.…}` from a query: a
    /// retry starts again from them.
    pub rendered: Option<Vec<String>>,
    /// Whether it ended early because the query its next statement needed found nothing (a
    /// poll that found no work).
    pub found_nothing: bool,
}
