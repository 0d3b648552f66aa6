//! Metrics: operation counts, errors by kind and latency histograms, overall and per second.
//!
//! Latencies go into HDR histograms (microseconds, three significant digits), as load-testing
//! tools record them, so p50/p95/p99/max are exact to 0.1 % at any scale. Per-second windows
//! keep the last [`WINDOWS_KEPT`] seconds in a ring buffer, so memory stays bounded however long
//! a run lasts.

use crate::sim::clock::{Micros, SECOND};
use crate::sim::sqlstate::SqlState;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// How many one-second windows are kept.
pub const WINDOWS_KEPT: usize = 120;

/// Why an operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// It did not finish within its service's timeout.
    Timeout,
    /// Its SQL names a table or column that does not exist (a schema break).
    Schema,
    /// A write conflicted with another transaction's.
    Conflict,
    /// It was the victim of a deadlock.
    Deadlock,
    /// It waited for a lock longer than its `lock_timeout`, or `NOWAIT` met a locked row.
    LockTimeout,
    /// One of its statements took longer than its `statement_timeout`.
    StatementTimeout,
    /// A constraint refused it (duplicate key, NOT NULL, unique).
    Constraint,
    /// It wrote a table its service does not own (`owned` mode): PostgreSQL's "permission
    /// denied for table …".
    Permission,
    /// Any other SQL error.
    Sql,
}

impl ErrorKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [Self; 9] = [
        Self::Timeout,
        Self::Schema,
        Self::Conflict,
        Self::Deadlock,
        Self::LockTimeout,
        Self::StatementTimeout,
        Self::Constraint,
        Self::Permission,
        Self::Sql,
    ];

    /// The kind called `name` (as [`ErrorKind::name`] writes it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind of a database error, from its PostgreSQL code.
    pub fn of_sqlstate(state: SqlState) -> Self {
        match state {
            SqlState::UndefinedTable | SqlState::UndefinedColumn => Self::Schema,
            SqlState::InsufficientPrivilege => Self::Permission,
            SqlState::LockNotAvailable => Self::LockTimeout,
            SqlState::QueryCanceled => Self::StatementTimeout,
            SqlState::DeadlockDetected => Self::Deadlock,
            SqlState::SerializationFailure => Self::Conflict,
            SqlState::UniqueViolation
            | SqlState::NotNullViolation
            | SqlState::ForeignKeyViolation => Self::Constraint,
            _ => Self::Sql,
        }
    }

    /// The code an error of this kind carries when the kind alone says it (a deadlock is
    /// always 40P01); `None` for a client-side timeout, which is no database error.
    pub fn implied_sqlstate(self) -> Option<SqlState> {
        match self {
            Self::Deadlock => Some(SqlState::DeadlockDetected),
            Self::LockTimeout => Some(SqlState::LockNotAvailable),
            Self::StatementTimeout => Some(SqlState::QueryCanceled),
            Self::Permission => Some(SqlState::InsufficientPrivilege),
            Self::Conflict => Some(SqlState::SerializationFailure),
            Self::Timeout | Self::Schema | Self::Constraint | Self::Sql => None,
        }
    }

    /// Sorts a database error message into a kind (for messages that come without a code).
    pub fn of_message(message: &str) -> Self {
        let m = message.to_ascii_lowercase();
        if m.contains("not found")
            || m.contains("wrong column")
            || m.contains("column") && m.contains("exist")
        {
            Self::Schema
        } else if m.contains("permission denied") {
            Self::Permission
        } else if m.contains("lock timeout") || m.contains("could not obtain lock") {
            Self::LockTimeout
        } else if m.contains("statement timeout") {
            Self::StatementTimeout
        } else if m.contains("deadlock") {
            Self::Deadlock
        } else if m.contains("serialize") || m.contains("being written") {
            Self::Conflict
        } else if m.contains("duplicate") || m.contains("null") || m.contains("unique") {
            Self::Constraint
        } else {
            Self::Sql
        }
    }

    /// PostgreSQL's message for a cancellation the simulator decides (not the database).
    pub fn message(self) -> Option<&'static str> {
        match self {
            Self::LockTimeout => Some("canceling statement due to lock timeout"),
            Self::StatementTimeout => Some("canceling statement due to statement timeout"),
            _ => None,
        }
    }

    /// The kind's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Schema => "schema",
            Self::Conflict => "conflict",
            Self::Deadlock => "deadlock",
            Self::LockTimeout => "lock_timeout",
            Self::StatementTimeout => "statement_timeout",
            Self::Constraint => "constraint",
            Self::Permission => "permission",
            Self::Sql => "sql",
        }
    }
}

/// The histograms' counters: 32 bits each (no bucket of one run counts four billion values).
type Counts = Histogram<u32>;

fn histogram() -> Counts {
    // From 1 µs, 3 significant digits, growing to the largest value recorded (at most one
    // hour, as `record` clamps): the same buckets as bounds of 1 µs – 1 h, but a histogram of
    // latencies up to ~2 s holds ~11,000 counters instead of 23,552, of 4 bytes instead of 8.
    // It is copied with every checkpoint, one per operation: 188 KB each before, 45–60 KB now
    // (the shop's 2 s and 10 s timeouts). Valid bounds: cannot fail.
    let mut counts = Histogram::new_with_bounds(1, 2, 3).unwrap_or_else(|_| unreachable!());
    counts.auto(true);
    counts
}

/// A distribution of durations in microseconds (staleness, lag in time) or of counts (lag in
/// messages), summarised as percentiles.
#[derive(Debug, Clone)]
pub struct Distribution {
    values: Counts,
}

impl Default for Distribution {
    fn default() -> Self {
        Self {
            values: histogram(),
        }
    }
}

impl Distribution {
    /// Adds one value (clamped to the histogram's range).
    pub fn record(&mut self, value: u64) {
        let value = value.clamp(1, 3_600 * SECOND);
        let _ = self.values.record(value);
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.values.len()
    }

    /// Percentiles, the values read as microseconds and given in milliseconds.
    pub fn as_latency(&self) -> LatencySummary {
        LatencySummary::of(&self.values)
    }

    /// The `q` quantile (0–1) of the values as recorded (0 if none).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.values.is_empty() {
            0
        } else {
            self.values.value_at_quantile(q)
        }
    }
}

/// Percentiles of a latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl LatencySummary {
    fn of(h: &Counts) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| (us as f64 / 1e3 * 1e3).round() / 1e3;
        Self {
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }

    /// The same percentiles of samples kept whole (microseconds): nearest rank, as an HDR
    /// histogram reads a quantile (the `ceil(q·n)`-th smallest), without its 0.1 % rounding.
    fn of_samples(mut samples: Vec<u32>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let n = samples.len();
        let at = |q: f64| {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            f64::from(samples[rank - 1]) / 1e3
        };
        Self {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// One second of an operation's life.
#[derive(Debug, Clone)]
pub struct Window {
    /// Which second of the run (0 is the first).
    pub second: u64,
    /// Operations that completed in it.
    pub completed: u64,
    /// Operations that failed in it.
    pub errors: u64,
    /// The latencies of the operations completed in it, in microseconds, as they came: a second
    /// holds few, so they are kept whole (an HDR histogram is ~190 KB whatever it holds, and a
    /// window per operation per second of them made a run's memory, and a checkpoint's copy,
    /// grow by megabytes a second).
    latencies: Vec<u32>,
}

impl Window {
    /// Latency percentiles of the operations completed in this second.
    pub fn latency(&self) -> LatencySummary {
        LatencySummary::of_samples(self.latencies.clone())
    }

    /// Latency percentiles of several windows together (a service's operations in one second).
    pub fn merged_latency(windows: &[&Window]) -> LatencySummary {
        let all = windows.iter().flat_map(|w| w.latencies.iter().copied());
        LatencySummary::of_samples(all.collect())
    }
}

/// Everything measured about one operation (or, merged, one service).
#[derive(Debug, Clone)]
pub struct OperationMetrics {
    /// Completed operations.
    pub completed: u64,
    /// Time spent waiting for locks, in microseconds.
    pub lock_wait_us: u64,
    /// Time the database spent executing the completed operations' statements (on a core), in
    /// microseconds: what PostgreSQL's `pg_stat_statements` calls execution time.
    pub exec_us: u64,
    /// Completed operations that ended early because their query found nothing to work on (a
    /// poll of an empty queue).
    pub found_nothing: u64,
    /// Failed operations, by kind.
    pub errors_by_kind: BTreeMap<ErrorKind, u64>,
    /// Failed operations, by PostgreSQL error code (those that failed with a database error).
    pub errors_by_sqlstate: BTreeMap<SqlState, u64>,
    latencies: Counts,
    windows: VecDeque<Window>,
}

impl Default for OperationMetrics {
    fn default() -> Self {
        Self {
            completed: 0,
            lock_wait_us: 0,
            exec_us: 0,
            found_nothing: 0,
            errors_by_kind: BTreeMap::new(),
            errors_by_sqlstate: BTreeMap::new(),
            latencies: histogram(),
            windows: VecDeque::new(),
        }
    }
}

impl OperationMetrics {
    fn window(&mut self, now: Micros) -> &mut Window {
        let second = now / SECOND;
        if self.windows.back().is_none_or(|w| w.second != second) {
            self.windows.push_back(Window {
                second,
                completed: 0,
                errors: 0,
                latencies: Vec::new(),
            });
            while self.windows.len() > WINDOWS_KEPT {
                self.windows.pop_front();
            }
        }
        let last = self.windows.len() - 1;
        &mut self.windows[last]
    }

    /// Records an operation that completed at `now` after `latency`.
    pub fn record_success(&mut self, now: Micros, latency: Micros) {
        self.completed += 1;
        let value = latency.clamp(1, 3_600 * SECOND);
        let _ = self.latencies.record(value);
        let window = self.window(now);
        window.completed += 1;
        // Clamped to an hour above, so it fits.
        window
            .latencies
            .push(u32::try_from(value).unwrap_or(u32::MAX));
    }

    /// Records an operation that failed at `now` (with PostgreSQL's code, if a database error).
    pub fn record_error(&mut self, now: Micros, kind: ErrorKind, state: Option<SqlState>) {
        *self.errors_by_kind.entry(kind).or_insert(0) += 1;
        if let Some(state) = state {
            *self.errors_by_sqlstate.entry(state).or_insert(0) += 1;
        }
        self.window(now).errors += 1;
    }

    /// Failed operations of every kind.
    pub fn errors(&self) -> u64 {
        self.errors_by_kind.values().sum()
    }

    /// Latency percentiles over the whole run.
    pub fn latency(&self) -> LatencySummary {
        LatencySummary::of(&self.latencies)
    }

    /// The kept one-second windows, oldest first.
    pub fn windows(&self) -> impl Iterator<Item = &Window> {
        self.windows.iter()
    }

    /// Adds `other`'s counts and latencies to these (a service from its operations).
    pub fn merge(&mut self, other: &Self) {
        self.completed += other.completed;
        self.lock_wait_us += other.lock_wait_us;
        self.exec_us += other.exec_us;
        self.found_nothing += other.found_nothing;
        for (kind, n) in &other.errors_by_kind {
            *self.errors_by_kind.entry(*kind).or_insert(0) += n;
        }
        for (state, n) in &other.errors_by_sqlstate {
            *self.errors_by_sqlstate.entry(*state).or_insert(0) += n;
        }
        let _ = self.latencies.add(&other.latencies);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_histogram_reads_as_one_bounded_to_an_hour() {
        // The bounds the histograms had: every value in its bucket from the start.
        let mut bounded = Histogram::<u64>::new_with_bounds(1, 3_600 * SECOND, 3).expect("valid");
        let mut growing = histogram();
        let mut rng = crate::sim::rng::SimRng::new(7, 1);
        for _ in 0..5_000 {
            // Microseconds to minutes, spread over orders of magnitude.
            let value = 1 + rng.int_in(0, 1_000) as u64 * 10u64.pow(rng.int_in(0, 5) as u32);
            let _ = bounded.record(value);
            let _ = growing.record(value);
        }
        for q in [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            assert_eq!(
                bounded.value_at_quantile(q),
                growing.value_at_quantile(q),
                "q = {q}"
            );
        }
        assert_eq!(bounded.max(), growing.max());
        assert!(growing.distinct_values() < bounded.distinct_values());
    }

    #[test]
    fn a_windows_percentiles_are_nearest_ranks_of_its_samples() {
        let mut m = OperationMetrics::default();
        // 1 ms … 100 ms in one second, in a shuffled order.
        for i in (1..=100u64).map(|i| (i * 37) % 100 + 1) {
            m.record_success(SECOND + i, i * 1_000);
        }
        let window = m.windows().next().expect("a window");
        let latency = window.latency();
        assert_eq!(
            (latency.p50, latency.p95, latency.p99, latency.max),
            (50.0, 95.0, 99.0, 100.0)
        );
        let merged = Window::merged_latency(&[window, window]);
        assert_eq!((merged.p50, merged.max), (50.0, 100.0));
    }

    #[test]
    fn percentiles_and_windows() {
        let mut m = OperationMetrics::default();
        for i in 1..=100 {
            m.record_success(i * 10_000, i * 1_000);
        }
        m.record_error(2 * SECOND, ErrorKind::Timeout, None);
        let latency = m.latency();
        assert!((49.0..=51.0).contains(&latency.p50), "{latency:?}");
        assert!((98.0..=100.1).contains(&latency.p99), "{latency:?}");
        assert_eq!(m.errors(), 1);
        let seconds: Vec<u64> = m.windows().map(|w| w.second).collect();
        assert_eq!(seconds, [0, 1, 2]);
    }

    #[test]
    fn windows_are_bounded() {
        let mut m = OperationMetrics::default();
        for s in 0..(WINDOWS_KEPT as u64 + 50) {
            m.record_success(s * SECOND, 10);
        }
        assert_eq!(m.windows().count(), WINDOWS_KEPT);
    }

    #[test]
    fn error_messages_are_sorted_into_kinds() {
        assert_eq!(
            ErrorKind::of_message("evaluate: identifier not found: email"),
            ErrorKind::Schema
        );
        assert_eq!(
            ErrorKind::of_message("fetch: table not found: x"),
            ErrorKind::Schema
        );
        assert_eq!(
            ErrorKind::of_message("could not serialize access due to concurrent update"),
            ErrorKind::Conflict
        );
        assert_eq!(
            ErrorKind::of_message("validate: duplicate entry '1' for primary_key field"),
            ErrorKind::Constraint
        );
        assert_eq!(ErrorKind::of_message("parser: something"), ErrorKind::Sql);
    }
}
