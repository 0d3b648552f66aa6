//! The SQL client state machine every actor runs its SQL with: an operation takes a connection
//! from its pool, then for each statement plans and takes its locks (waiting, timing out or
//! deadlocking), waits for a core, runs on GlueSQL for the cost of what it did, and commits,
//! fails, retries or completes.

use super::{
    ConsoleEntry, ConsoleStatus, Event, LockEventKind, NarrationKind, Traced, World, CONSOLE_KEPT,
};
use crate::sim::acquire::{Acquisition, Progress, Requester};
use crate::sim::database::Connection;
use crate::sim::database::Outcome;
use crate::sim::lock_plan::plan_locks;
use crate::sim::locks::{Owner, Wakeup};
use crate::sim::metrics::ErrorKind;
use crate::sim::owners::Actor;
use crate::sim::prepared::PreparedCommand;
use crate::sim::service::{InFlight, Notify};
use crate::sim::sqlstate::SqlState;
use crate::sim::statement::Command as SqlCommand;
use gluesql::core::store::Store;
use std::rc::Rc;

/// The SQL client state machine's events, each about an in-flight operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientEvent {
    /// A failed operation's backoff is over: it tries again.
    Retry { op: u64 },
    /// A statement's execution time is over: it releases its core.
    StatementDone { op: u64 },
    /// A lock wait ends: after the connection's `lock_timeout` or `statement_timeout`, or at
    /// the operation's deadline, whichever comes first (`kind` says which). Stale if the
    /// request was granted meanwhile.
    LockTimeout {
        op: u64,
        request: u64,
        kind: ErrorKind,
    },
    /// The pause between two statements of an operation is over.
    ThinkDone { op: u64 },
    /// An operation's next statement has crossed the network to its database.
    Arrived { op: u64 },
    /// A statement's reply has crossed the network back to its client.
    Returned { op: u64 },
}

impl World {
    /// Handles a client event.
    pub(super) fn handle_client(&mut self, event: ClientEvent) {
        match event {
            ClientEvent::Retry { op } => {
                self.record(Traced::Retry, &[op]);
                self.acquire_connection(op);
            }
            ClientEvent::StatementDone { op } => {
                self.record(Traced::StatementDone, &[op]);
                self.statement_done(op);
            }
            ClientEvent::ThinkDone { op } => {
                self.record(Traced::ThinkDone, &[op]);
                self.before_statement(op);
            }
            ClientEvent::Arrived { op } => {
                self.record(Traced::Arrived, &[op]);
                self.statement_arrives(op);
            }
            ClientEvent::Returned { op } => {
                self.record(Traced::Returned, &[op]);
                self.statement_returned(op);
            }
            ClientEvent::LockTimeout { op, request, kind } => {
                let waiting = self
                    .in_flight
                    .get(&op)
                    .and_then(|o| o.waiting_lock)
                    .is_some_and(|(r, _)| r == request);
                if waiting {
                    if let Some(o) = self.in_flight.get(&op) {
                        let (owner, node) = (o.owner, self.services[o.service].node);
                        self.lock_event(node, LockEventKind::TimedOut, owner, None, &[], 0);
                    }
                    self.record(Traced::LockTimedOut, &[op, request]);
                    if let Some(o) = self.in_flight.get_mut(&op) {
                        o.last_error = kind.message().map(str::to_owned);
                        o.last_state = kind.implied_sqlstate();
                    }
                    self.fail(op, kind);
                }
            }
        }
    }

    /// Starts an operation of service `s` that runs `sql` (one transaction if several
    /// statements); `action` is the timeline entry it carries out, if any.
    pub(super) fn start_operation(
        &mut self,
        s: usize,
        o: usize,
        mut sql: Vec<String>,
        action: Option<usize>,
        notify: Option<Notify>,
    ) {
        let now = self.now;
        let console_owner = self
            .console_services
            .iter()
            .find(|(service, _)| *service == s)
            .map(|(_, owner)| *owner);
        // An outbox writer's write runs in a transaction that ends with its events.
        let writes_events = self.services[s].outbox.as_ref().is_some_and(|outbox| {
            self.services[s]
                .operations
                .get(o)
                .is_some_and(|op| outbox.covers(&op.writes))
        });
        let explicit = (sql.len() > 1 || writes_events) && console_owner.is_none();
        if explicit {
            sql.push("COMMIT".to_owned());
        }
        let id = self.next_op;
        self.next_op += 1;
        // The console's session keeps its owner across commands; it runs this one once it has
        // the session's connection (see `begin`).
        let owner = match console_owner {
            Some(owner) => owner,
            None => self.owners.allocate(Actor::Operation(id)),
        };
        let timeout = self.services[s].timeout;
        self.in_flight.insert(
            id,
            InFlight {
                service: s,
                operation: o,
                arrived: now,
                deadline: now.saturating_add(timeout),
                attempt: 0,
                sql,
                explicit,
                next: 0,
                connection: None,
                wrote: false,
                failure: None,
                last_error: None,
                last_state: None,
                action,
                owner,
                acquisition: Acquisition::default(),
                prepared: None,
                only_rows: None,
                statement_deadline: None,
                console: None,
                statement_locks: Vec::new(),
                waiting_lock: None,
                captured: matches!(
                    notify,
                    Some(Notify::EtlExtract { .. } | Notify::RelayPoll { .. })
                )
                .then(Vec::new),
                core_time: 0,
                attempt_core: 0,
                released: false,
                notify,
                row: None,
                rendered: None,
                found_nothing: false,
            },
        );
        if let Some(op) = self.in_flight.get_mut(&id) {
            if op
                .sql
                .iter()
                .any(|t| crate::sim::params::row_placeholders(t).next().is_some())
            {
                op.rendered = Some(op.sql.clone());
            }
        }
        if console_owner.is_some() {
            let database = self.nodes[self.services[s].node].name.clone();
            let mut entries = Vec::new();
            if let Some(op) = self.in_flight.get_mut(&id) {
                for statement in &op.sql {
                    let entry = self.next_console_entry;
                    self.next_console_entry += 1;
                    entries.push(entry);
                    self.console.push_back(ConsoleEntry {
                        id: entry,
                        database: database.clone(),
                        sql: statement.clone(),
                        submitted: now,
                        finished: None,
                        status: ConsoleStatus::Queued,
                    });
                }
                op.console = Some(crate::sim::service::ConsoleWork {
                    entries,
                    result: None,
                });
            }
            while self.console.len() > CONSOLE_KEPT {
                self.console.pop_front();
            }
        }
        self.acquire_connection(id);
    }

    pub(super) fn acquire_connection(&mut self, id: u64) {
        let Some(op) = self.in_flight.get(&id) else {
            return;
        };
        let service = &mut self.services[op.service];
        match service.free.pop_front() {
            Some(connection) => self.begin(id, connection),
            None => service.waiting.push_back(id),
        }
    }

    pub(super) fn begin(&mut self, id: u64, connection: usize) {
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        op.connection = Some(connection);
        op.next = 0;
        op.wrote = false;
        op.attempt_core = 0;
        op.released = false;
        if op.console.is_some() {
            if let Some(Actor::Console { running, .. }) = self.owners.actor_mut(op.owner) {
                *running = Some(id);
            }
        }
        if op.explicit {
            let service = op.service;
            let _ = self.services[service].pool[connection].execute("BEGIN");
            self.keep_sql(
                self.services[service].node,
                Some((service, connection)),
                "BEGIN",
            );
        }
        self.before_statement(id);
    }

    /// Sends the operation's next statement to its database: it arrives after a crossing of
    /// the client's link.
    pub(super) fn before_statement(&mut self, id: u64) {
        let Some(op) = self.in_flight.get(&id) else {
            return;
        };
        let delay = self.network.one_way(self.services[op.service].link);
        if delay == 0 {
            self.statement_arrives(id);
        } else {
            self.queue.schedule(
                self.now + delay,
                Event::Client(ClientEvent::Arrived { op: id }),
            );
        }
    }

    /// The statement reached the server: parses it, plans its locks and starts taking them;
    /// once all are held, the statement asks for a core.
    fn statement_arrives(&mut self, id: u64) {
        let now = self.now;
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let service = &mut self.services[op.service];
        let sql = op.sql.get(op.next).map(String::as_str).unwrap_or_default();
        let Some(connection) = op.connection.and_then(|slot| service.pool.get_mut(slot)) else {
            return;
        };
        // A view read is planned as a read of the view's tables.
        let command = Connection::prepare(sql).and_then(|c| connection.resolve_views(c));
        // The owned mode: writing another service's table is refused before anything runs,
        // as PostgreSQL refuses a role without the privilege.
        if let (Some(allowed), Ok(SqlCommand::Sql { statement, .. })) =
            (&service.may_write, &command)
        {
            let (_, writes) = crate::sim::lock_plan::tables_of(statement);
            if let Some(table) = writes.iter().find(|t| !allowed.contains(t)) {
                op.last_error = Some(format!("permission denied for table {table}"));
                op.last_state = Some(SqlState::InsufficientPrivilege);
                self.fail(id, ErrorKind::Permission);
                return;
            }
        }
        let command =
            command.and_then(|command| connection.start_statement(&command).map(|()| command));
        op.statement_deadline = connection.statement_timeout().map(|t| now + t);
        let plan = match &command {
            Ok(SqlCommand::Sql { statement, locking })
                if self.locking && !connection.is_aborted() =>
            {
                let session = connection.session();
                plan_locks(statement, *locking, connection.isolation(), |table| {
                    session.fetch_schema(table).ok().flatten()
                })
            }
            _ => Vec::new(),
        };
        op.prepared = Some(PreparedCommand::new(sql, command));
        op.acquisition = Acquisition::new(plan);
        self.set_console_status(id, ConsoleStatus::Running);
        self.take_locks(id);
    }

    /// Takes the statement's remaining locks in order; stops at one it must wait for, and asks
    /// for a core once all are held.
    pub(super) fn take_locks(&mut self, id: u64) {
        let now = self.now;
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let service = &mut self.services[op.service];
        let node_index = service.node;
        let Some(connection) = op.connection.and_then(|slot| service.pool.get_mut(slot)) else {
            return;
        };
        let lock_timeout = connection.lock_timeout();
        let owner = op.owner;
        let mut granted = Vec::new();
        let progress = op.acquisition.advance(
            &mut Requester {
                owner,
                locks: &mut self.nodes[node_index].locks,
                connection,
                now,
                statement: op.sql.get(op.next).map(|s| Rc::from(s.as_str())),
            },
            |lock| granted.push((lock.resource.clone(), lock.mode)),
        );
        let released = op.acquisition.take_released();
        let (deadline, statement_deadline) = (op.deadline, op.statement_deadline);
        for (resource, mode) in &granted {
            let lock = Some((resource, *mode));
            self.lock_event(node_index, LockEventKind::Granted, owner, lock, &[], 0);
        }
        match progress {
            Progress::Ready => {
                if let Some(op) = self.in_flight.get_mut(&id) {
                    let locks = op.acquisition.take_statement_locks();
                    op.statement_locks.extend(locks);
                    op.only_rows = op.acquisition.only_rows();
                }
                self.request_core(id);
            }
            Progress::Waiting {
                request,
                lock,
                blockers,
            } => {
                if let Some(op) = self.in_flight.get_mut(&id) {
                    op.waiting_lock = Some((request, now));
                }
                let event = Some((&lock.resource, lock.mode));
                self.lock_event(
                    node_index,
                    LockEventKind::Waited,
                    owner,
                    event,
                    &blockers,
                    0,
                );
                let names = blockers.iter().map(|b| self.who(*b)).collect();
                self.set_console_status(id, ConsoleStatus::WaitingForLock(names));
                // The wait ends at the lock timeout, the statement timeout or the operation's
                // deadline, whichever comes first (a later grant makes the event a no-op).
                let (at, kind) = [
                    lock_timeout.map(|t| (now + t, ErrorKind::LockTimeout)),
                    statement_deadline.map(|at| (at, ErrorKind::StatementTimeout)),
                    Some((deadline, ErrorKind::Timeout)),
                ]
                .into_iter()
                .flatten()
                .min_by_key(|(at, _)| *at)
                .unwrap_or((deadline, ErrorKind::Timeout));
                self.queue.schedule(
                    at.max(now),
                    Event::Client(ClientEvent::LockTimeout {
                        op: id,
                        request,
                        kind,
                    }),
                );
                self.record(Traced::LockWait, &[id, request]);
            }
            Progress::Deadlock { lock, cycle } => {
                let event = Some((&lock.resource, lock.mode));
                self.lock_event(node_index, LockEventKind::Deadlock, owner, event, &cycle, 0);
                self.record(Traced::Deadlock, &[id, cycle.len() as u64]);
                let names: Vec<String> = cycle.iter().map(|o| self.who(*o)).collect();
                if let Some(op) = self.in_flight.get_mut(&id) {
                    op.last_error = Some(format!(
                        "deadlock detected: {} wait for each other",
                        names.join(" → ")
                    ));
                    op.last_state = Some(SqlState::DeadlockDetected);
                }
                self.fail(id, ErrorKind::Deadlock);
            }
            Progress::Failed(error) => {
                let state = error.sqlstate();
                let kind = ErrorKind::of_sqlstate(state);
                if let Some(op) = self.in_flight.get_mut(&id) {
                    op.last_error = Some(error.to_string());
                    op.last_state = Some(state);
                }
                self.fail(id, kind);
            }
        }
        if !released.is_empty() {
            self.wake(released);
        }
    }

    /// Tells the actor that started an operation that it ended: completed (`failure` `None`)
    /// or failed with the database's message.
    fn notify(&mut self, op: &mut InFlight, failure: Option<&str>) {
        let ok = failure.is_none();
        match op.notify {
            Some(Notify::ConsumerBatch { consumer, batch }) => {
                self.consumer_batch_done(consumer, batch, failure);
            }
            Some(Notify::EtlExtract { run }) => {
                let results = op.captured.take().unwrap_or_default();
                self.etl_extract_done(run, ok, results, op.core_time);
            }
            Some(Notify::EtlLoad { run }) => self.etl_load_done(run, ok, op.core_time),
            Some(Notify::CapturePoll {
                connector,
                generation,
            }) => self.capture_poll_done(connector, generation, ok, op.core_time),
            Some(Notify::RelayPoll {
                connector,
                generation,
            }) => {
                let results = op.captured.take().unwrap_or_default();
                self.relay_poll_done(connector, generation, failure, &results, op.core_time);
            }
            Some(Notify::RelayMark { connector }) => {
                self.relay_mark_done(connector, failure, op.core_time);
            }
            None => {}
        }
    }

    /// Forgets an operation's owner once its transaction is over; the console's owner stays
    /// (its session goes on), running nothing.
    fn retire_owner(&mut self, owner: Owner, id: u64) {
        match self.owners.actor_mut(owner) {
            Some(Actor::Console { running, .. }) => {
                if *running == Some(id) {
                    *running = None;
                }
            }
            _ => self.owners.retire(owner),
        }
    }

    /// Delivers lock wake-ups to whichever actor waits — an operation (a service's, the
    /// timeline's, the console's) goes on taking its locks, a scripted session runs its step —
    /// whoever released the lock.
    pub(super) fn wake(&mut self, wakeups: Vec<Wakeup>) {
        for wakeup in wakeups {
            if let Some(Actor::Session(_)) = self.owners.actor(wakeup.owner) {
                let before = self.script_report();
                if let Some((node, runner)) = &mut self.script {
                    runner.deliver(vec![wakeup], &mut self.nodes[*node].locks);
                }
                self.narrate_script(before.as_ref());
                self.settle_script();
                continue;
            }
            let Some(id) = self.owners.operation_of(wakeup.owner) else {
                continue;
            };
            let Some(op) = self.in_flight.get_mut(&id) else {
                continue;
            };
            if op.acquisition.granted_after_wait(wakeup.request).is_none() {
                continue;
            }
            op.waiting_lock = None;
            self.services[op.service].operations[op.operation]
                .metrics
                .lock_wait_us += wakeup.waited;
            let (service, operation, waited) = (op.service, op.operation, wakeup.waited);
            self.record_in_phases(service, operation, |m| m.lock_wait_us += waited);
            let node = self.services[service].node;
            let lock = Some((&wakeup.resource, wakeup.mode));
            self.lock_event(
                node,
                LockEventKind::GrantedAfterWait,
                wakeup.owner,
                lock,
                &[],
                wakeup.waited,
            );
            self.record(Traced::LockGranted, &[id, wakeup.waited]);
            self.take_locks(id);
        }
    }

    /// After the script runner ran: names what its newly waiting steps wait for, and delivers
    /// the wake-ups its sessions' releases produced for other actors.
    pub(super) fn settle_script(&mut self) {
        let Some((node, mut runner)) = self.script.take() else {
            return;
        };
        runner.name_waits(|owner| self.who(owner));
        let undelivered = runner.take_undelivered();
        self.script = Some((node, runner));
        if !undelivered.is_empty() {
            self.wake(undelivered);
        }
    }

    /// Narrates what the script's steps did since `before` (a report taken earlier).
    pub(super) fn narrate_script(&mut self, before: Option<&crate::sim::script::ScriptReport>) {
        let (Some(before), Some(after)) = (before, self.script_report()) else {
            return;
        };
        let Some((node, _)) = &self.script else {
            return;
        };
        let database = self.nodes[*node].name.clone();
        for (kind, text, sql) in crate::sim::script::narrate(before, &after, &database) {
            self.narrate(kind, text, sql, 0);
        }
    }

    /// Releases the locks the operation took for its statement (`all`: for its transaction).
    pub(super) fn release_locks(&mut self, id: u64, all: bool) {
        let Some(op) = self.in_flight.get(&id) else {
            return;
        };
        // The transaction's locks went already, at the server.
        let all = all && !op.released;
        let (owner, node_index) = (op.owner, self.services[op.service].node);
        if all && self.locking {
            self.lock_event(node_index, LockEventKind::Released, owner, None, &[], 0);
        }
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let node = &mut self.nodes[node_index];
        let mut wakeups = Vec::new();
        let mut statement_locks = std::mem::take(&mut op.statement_locks);
        statement_locks.extend(op.acquisition.take_statement_locks());
        for (resource, mode) in statement_locks {
            wakeups.extend(node.locks.release(op.owner, &resource, mode, self.now));
        }
        if all {
            op.released = true;
            op.acquisition.stop_waiting();
            if let Some((request, _)) = op.waiting_lock.take() {
                wakeups.extend(node.locks.cancel(request, self.now));
            }
            wakeups.extend(node.locks.release_all(op.owner, self.now));
        }
        self.wake(wakeups);
    }

    pub(super) fn request_core(&mut self, id: u64) {
        let Some(op) = self.in_flight.get(&id) else {
            return;
        };
        let node = &mut self.nodes[self.services[op.service].node];
        if node.has_free_core() {
            self.execute(id);
        } else {
            node.enqueue(id);
        }
    }

    /// Runs the operation's next statement on its connection and holds a core for its cost.
    pub(super) fn execute(&mut self, id: u64) {
        let now = self.now;
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let service = &mut self.services[op.service];
        let node = &mut self.nodes[service.node];
        let Some(slot) = op.connection else { return };
        let Some(connection) = service.pool.get_mut(slot) else {
            return;
        };
        let sql = op.sql.get(op.next).cloned().unwrap_or_default();
        let command = op
            .prepared
            .take()
            .map_or_else(|| Connection::prepare(&sql), PreparedCommand::into_command);
        let is_commit = op.explicit && op.next + 1 == op.sql.len();
        // The transactional outbox: before its commit, the transaction writes the events of
        // its changes into the outbox (and deletes them again), at the writer's expense.
        let mut outbox_cost = 0;
        let mut outbox_failure = None;
        if let Some(outbox) = service.outbox.as_mut().filter(|_| is_commit) {
            node.db
                .with_engine_ref(|engine| outbox.follow_schema(engine.log()));
            let statements = outbox.statements(connection.session().pending_changes(), now);
            for statement in &statements {
                if let Err(e) = connection.execute(statement) {
                    outbox_failure = Some(e);
                    break;
                }
                outbox_cost += node.cost.statement(connection.last_counters());
            }
        }
        let result = match outbox_failure {
            Some(e) => Err(e),
            None => connection.execute_prepared(&sql, command, op.only_rows.take()),
        };
        let work = connection.last_counters();
        if let (Some(captured), Ok(result)) = (&mut op.captured, &result) {
            captured.push(result.outcome.clone());
        }
        if let (Some(_), Ok(result)) = (&op.rendered, &result) {
            if let Outcome::Rows { columns, rows } = &result.outcome {
                op.row = Some(rows.first().map(|row| {
                    columns
                        .iter()
                        .zip(row)
                        .map(|(c, cell)| (c.to_ascii_lowercase(), cell.sql_literal()))
                        .collect()
                }));
            }
        }
        if let Some(console) = &mut op.console {
            console.result = Some(match &result {
                Ok(outcome) => Ok(outcome.clone()),
                Err(error) => Err(error.to_string()),
            });
        }
        let mut cost = node.cost.statement(work) + outbox_cost;
        op.wrote |= work.rows_written > 0;
        if is_commit || !op.explicit {
            cost += node.cost.commit(op.wrote);
        }
        // Trigger-based capture: the source's audit trigger copies each changed row into the
        // audit table, in the same transaction, at the writer's expense.
        if work.rows_written > 0 && result.is_ok() {
            if let Some(trigger) = self
                .pipeline
                .as_mut()
                .and_then(|p| p.triggers.get_mut(&service.node))
            {
                if let Some(audit) = trigger.audit_sql(&sql, work.rows_written, now) {
                    if connection.execute(&audit).is_ok() {
                        let extra = node.cost.statement(connection.last_counters());
                        trigger.core += extra;
                        cost += extra;
                    }
                }
            }
        }
        op.failure = result.err().map(|e| (e.sqlstate(), e.to_string()));

        // A statement that would outlast its statement_timeout is cancelled when the timeout
        // strikes. Its effects go with it: a read has none, and a failed transaction is rolled
        // back. Simplification: an autocommit write has already committed, so it runs on.
        if let Some(at) = op.statement_deadline {
            if now + cost > at && (work.rows_written == 0 || op.explicit) {
                cost = at.saturating_sub(now);
                op.failure = ErrorKind::StatementTimeout
                    .message()
                    .map(|m| (SqlState::QueryCanceled, m.to_owned()));
            }
        }
        // A write by hand (the console, a timeline statement) goes around the owner's code,
        // and so around its outbox (one that failed or was cancelled wrote nothing).
        let by_hand = (op.console.is_some() || op.action.is_some())
            && service.outbox.is_none()
            && work.rows_written > 0
            && op.failure.is_none();
        node.start(cost, work.rows_read, work.rows_written);
        op.core_time += cost;
        op.attempt_core += cost;
        let ok = u64::from(op.failure.is_none());
        let (s_index, node_index) = (op.service, service.node);
        self.queue.schedule(
            now + cost,
            Event::Client(ClientEvent::StatementDone { op: id }),
        );
        self.record(
            Traced::Executed,
            &[id, cost, work.rows_read, work.rows_written, ok],
        );
        self.keep_sql(node_index, Some((s_index, slot)), &sql);
        if by_hand {
            self.narrate_outbox_bypass(node_index, &sql);
        }
    }

    /// Says so when a write by hand changed a table whose changes an owner publishes as domain
    /// events: no event was written for it (only the owner's code writes its outbox), so the
    /// event readers never hear of it — as with a manual fix in production.
    fn narrate_outbox_bypass(&mut self, node: usize, sql: &str) {
        let Ok(SqlCommand::Sql { statement, .. }) = Connection::prepare(sql) else {
            return;
        };
        let (_, writes) = crate::sim::lock_plan::tables_of(&statement);
        let Some(owner) = self.services.iter().find(|s| {
            s.node == node
                && s.outbox
                    .as_ref()
                    .is_some_and(|outbox| outbox.covers(&writes))
        }) else {
            return;
        };
        let text = format!(
            "This write to {} went around the outbox of the {} service: no domain event was \
             written for it, so \
             the services that read its events never hear of it (as with a manual fix in \
             production). The invariant checker shows the difference.",
            writes.join(", "),
            owner.name
        );
        self.narrate(NarrationKind::Action, text, Some(sql.to_owned()), 0);
    }

    /// A statement's execution ended, at the server: it gives back its core and its statement
    /// locks; when it ended its transaction — the last statement ran, or it failed (PostgreSQL
    /// aborts the transaction and releases its locks at once, before the client hears of it) —
    /// the transaction's locks go too. Then the reply crosses back to the client.
    pub(super) fn statement_done(&mut self, id: u64) {
        let Some(op) = self.in_flight.get(&id) else {
            return;
        };
        let node_index = self.services[op.service].node;
        let link = self.services[op.service].link;
        let ends_transaction =
            op.console.is_none() && (op.failure.is_some() || op.next + 1 >= op.sql.len());
        self.nodes[node_index].finish();
        self.release_locks(id, false);
        if ends_transaction {
            self.release_locks(id, true);
        }
        self.next_from_core_queue(node_index);
        let delay = self.network.one_way(link);
        if delay == 0 {
            self.statement_returned(id);
        } else {
            self.queue.schedule(
                self.now + delay,
                Event::Client(ClientEvent::Returned { op: id }),
            );
        }
    }

    /// A statement's reply reached its client: it goes on with the next statement, completes,
    /// or handles the failure.
    fn statement_returned(&mut self, id: u64) {
        if self
            .in_flight
            .get(&id)
            .is_some_and(|op| op.console.is_some())
        {
            self.console_statement_done(id);
            return;
        }
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        if let Some((state, message)) = op.failure.take() {
            let kind = ErrorKind::of_sqlstate(state);
            op.last_error = Some(message);
            op.last_state = Some(state);
            self.fail(id, kind);
        } else if self.now > op.deadline {
            self.fail(id, ErrorKind::Timeout);
        } else if op.next + 1 < op.sql.len() {
            op.next += 1;
            // A statement that takes `{row.…}` from the last query: filled in now, or, when the
            // query found nothing, the operation ends here (its transaction commits what it did).
            let next = op.sql[op.next].clone();
            if crate::sim::params::row_placeholders(&next).next().is_some() {
                match op.row.as_ref().map(|row| row.as_deref()) {
                    Some(Some(row)) => match crate::sim::params::render_row(&next, row) {
                        Ok(sql) => op.sql[op.next] = sql,
                        Err(message) => {
                            op.last_error = Some(message);
                            self.fail(id, ErrorKind::Sql);
                            return;
                        }
                    },
                    _ => {
                        op.found_nothing = true;
                        if op.explicit {
                            op.next = op.sql.len() - 1;
                        } else {
                            self.complete(id);
                            return;
                        }
                    }
                }
            }
            let think = self.services[op.service].operations[op.operation].think_time;
            if think == 0 {
                self.before_statement(id);
            } else {
                // Thinking holds the connection but no core.
                self.queue.schedule(
                    self.now + think,
                    Event::Client(ClientEvent::ThinkDone { op: id }),
                );
            }
        } else {
            self.complete(id);
        }
    }

    /// A console statement ended (ran, or failed before running): its entry gets the result,
    /// the session's locks go if its transaction ended (or failed), and the next statement
    /// starts — a failure does not stop the ones after it, as in `psql`.
    pub(super) fn console_statement_done(&mut self, id: u64) {
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let result = op
            .console
            .as_mut()
            .and_then(|c| c.result.take())
            .or_else(|| {
                op.failure
                    .take()
                    .map(|(state, message)| Err(format!("{message} (SQLSTATE {state})")))
            })
            .unwrap_or_else(|| Err("the statement did not run".to_owned()));
        op.failure = None;
        let (service, slot) = (op.service, op.connection);
        self.set_console_status(id, ConsoleStatus::Done(result));
        let connection = slot.and_then(|c| self.services[service].pool.get(c));
        let transaction_over = connection.is_none_or(|c| !c.in_transaction() || c.is_aborted());
        self.release_locks(id, transaction_over);
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        if op.next + 1 < op.sql.len() {
            op.next += 1;
            self.before_statement(id);
        } else {
            self.complete(id);
        }
    }

    pub(super) fn next_from_core_queue(&mut self, node_index: usize) {
        while self.nodes[node_index].has_free_core() {
            let Some(next) = self.nodes[node_index].queue.pop_front() else {
                return;
            };
            let expired = self
                .in_flight
                .get(&next)
                .is_some_and(|op| self.now > op.deadline);
            if expired {
                self.fail(next, ErrorKind::Timeout);
            } else {
                self.execute(next);
            }
        }
    }

    pub(super) fn release_connection(&mut self, s: usize, connection: usize) {
        loop {
            let Some(waiter) = self.services[s].waiting.pop_front() else {
                self.services[s].free.push_back(connection);
                return;
            };
            let expired = self
                .in_flight
                .get(&waiter)
                .is_some_and(|op| self.now > op.deadline);
            if expired {
                self.finish_failed(waiter, ErrorKind::Timeout);
            } else {
                self.begin(waiter, connection);
                return;
            }
        }
    }

    pub(super) fn fail(&mut self, id: u64, kind: ErrorKind) {
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        if op.console.is_some() {
            // A console statement failed before it ran (a deadlock, a lock timeout, NOWAIT):
            // as in PostgreSQL, the session's transaction is aborted and its locks go.
            let message = op
                .last_error
                .take()
                .unwrap_or_else(|| kind.name().to_owned());
            let state = op
                .last_state
                .take()
                .or(kind.implied_sqlstate())
                .unwrap_or(SqlState::QueryCanceled);
            op.failure = Some((state, message));
            if let Some(console) = &mut op.console {
                console.result = None;
            }
            let (service, slot) = (op.service, op.connection);
            if let Some(connection) = slot.and_then(|c| self.services[service].pool.get_mut(c)) {
                connection.abandon_statement();
                if connection.in_transaction() {
                    connection.abort();
                }
            }
            self.console_statement_done(id);
            return;
        }
        let service = op.service;
        let connection = op.connection.take();
        if let Some(connection) = connection {
            self.services[service].pool[connection].abandon_statement();
            if op.explicit {
                let _ = self.services[service].pool[connection].execute("ROLLBACK");
                self.keep_sql(
                    self.services[service].node,
                    Some((service, connection)),
                    "ROLLBACK",
                );
            }
        }
        self.release_locks(id, true);
        if let Some(connection) = connection {
            self.release_connection(service, connection);
        }
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let retries = self.services[service].retries;
        if op.attempt < retries && kind != ErrorKind::Timeout && self.now < op.deadline {
            op.attempt += 1;
            if let Some(captured) = &mut op.captured {
                captured.clear();
            }
            if let Some(rendered) = &op.rendered {
                op.sql = rendered.clone();
                op.row = None;
                op.found_nothing = false;
            }
            let backoff = self.services[service].retry_backoff;
            self.queue.schedule(
                self.now + backoff,
                Event::Client(ClientEvent::Retry { op: id }),
            );
        } else {
            self.finish_failed(id, kind);
        }
    }

    pub(super) fn finish_failed(&mut self, id: u64, kind: ErrorKind) {
        self.release_locks(id, true);
        if let Some(mut op) = self.in_flight.remove(&id) {
            self.retire_owner(op.owner, id);
            let message = op
                .last_error
                .clone()
                .unwrap_or_else(|| kind.name().to_owned());
            self.notify(&mut op, Some(&message));
            let state = match kind {
                ErrorKind::Timeout => None,
                _ => op.last_state.or(kind.implied_sqlstate()),
            };
            let shown = match state {
                Some(state) => format!("{message} (SQLSTATE {state})"),
                None => message.clone(),
            };
            self.settle_action(
                op.action,
                format!("error: {shown}"),
                kind == ErrorKind::Schema,
            );
            let sql = op.sql.get(op.next).cloned().unwrap_or_default();
            let now = self.now;
            let node = self.services[op.service].node;
            let same_break = self.services[op.service].operations[op.operation]
                .last_error
                .as_ref()
                .is_some_and(|(_, k, _, s)| *k == ErrorKind::Schema && *s == sql);
            let broken_tables =
                (kind == ErrorKind::Schema && !same_break).then(|| self.broken_tables(node, &sql));
            let service = &mut self.services[op.service];
            let operation = &mut service.operations[op.operation];
            operation.metrics.record_error(now, kind, state);
            operation.last_error = Some((now, kind, message.clone(), sql.clone()));
            if let Some(tables) = broken_tables {
                operation.broken_tables = tables;
            }
            let (service_name, operation_name) = (service.name.clone(), operation.name.clone());
            self.record_in_phases(op.service, op.operation, |m| {
                m.record_error(now, kind, state)
            });
            let text = format!(
                "{service_name}.{operation_name} failed ({}): {shown}",
                kind.name()
            );
            let kind = if kind == ErrorKind::Schema {
                NarrationKind::SchemaBreak
            } else {
                NarrationKind::Error
            };
            if op.action.is_none() {
                self.narrate(kind, text, Some(sql), 0);
            }
            self.record(Traced::Failed, &[id, kind as u64]);
        }
    }

    pub(super) fn complete(&mut self, id: u64) {
        let open_console_transaction = self.in_flight.get(&id).is_some_and(|op| {
            op.console.is_some()
                && op
                    .connection
                    .and_then(|c| self.services[op.service].pool.get(c))
                    .is_some_and(|c| c.in_transaction())
        });
        if !open_console_transaction {
            self.release_locks(id, true);
        }
        let Some(mut op) = self.in_flight.remove(&id) else {
            return;
        };
        self.retire_owner(op.owner, id);
        self.notify(&mut op, None);
        self.settle_action(op.action, "ok".to_owned(), false);
        let latency = self.now - op.arrived;
        let operation = &mut self.services[op.service].operations[op.operation];
        operation.metrics.record_success(self.now, latency);
        operation.last_success = Some(self.now);
        let now = self.now;
        let found_nothing = op.found_nothing;
        if found_nothing {
            operation.metrics.found_nothing += 1;
        }
        let exec = op.attempt_core;
        operation.metrics.exec_us += exec;
        self.record_in_phases(op.service, op.operation, |m| {
            m.record_success(now, latency);
            m.found_nothing += u64::from(found_nothing);
            m.exec_us += exec;
        });
        self.record(Traced::Completed, &[id, latency]);
        if let Some(connection) = op.connection {
            self.release_connection(op.service, connection);
        }
    }
}
