//! What the run's trace records. The trace is a hash of every step of the simulation — the
//! time, what happened and its numbers — so that two runs with the same scenario and seed can be
//! compared by one value, natively and in the browser (`tests/golden/`).

/// One kind of step the trace records. Its code is the enum's discriminant, fixed here once so
/// that the golden trace changes only when the model does, not when code moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Traced {
    /// An operation arrived (service, operation).
    Arrival = 1,
    /// A failed operation is tried again (operation).
    Retry = 2,
    /// A statement's execution time is over (operation).
    StatementDone = 3,
    /// A timeline action fell due (its index).
    TimelineAction = 4,
    /// A statement ran on GlueSQL (operation, cost, rows read, rows written, success).
    Executed = 5,
    /// An operation failed for good (operation, narration kind).
    Failed = 6,
    /// An operation completed (operation, latency).
    Completed = 7,
    /// The pause between two statements is over (operation).
    ThinkDone = 8,
    /// A statement began to wait for a lock (operation, request).
    LockWait = 9,
    /// A waiting lock request was granted (operation, time waited).
    LockGranted = 10,
    /// A statement's lock request closed a cycle of waits (operation, cycle length).
    Deadlock = 11,
    /// A lock wait ended by a timeout (operation, request).
    LockTimedOut = 12,
    /// A CDC connector polled its source (connector, events produced).
    ConnectorPoll = 13,
    /// A CDC connector flushed its offset (connector).
    ConnectorFlush = 14,
    /// A CDC consumer polled its partitions (consumer, messages fetched).
    ConsumerPoll = 15,
    /// The broker's log cleaner ran (messages removed).
    Clean = 16,
    /// The ETL job's interval fell due.
    EtlStart = 17,
    /// A statement crossed the network to its database (operation).
    Arrived = 18,
    /// A statement's reply crossed the network back to its client (operation).
    Returned = 19,
}

impl Traced {
    /// The code written to the trace.
    pub(super) fn code(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::Traced;

    #[test]
    fn codes_are_distinct() {
        let all = [
            Traced::Arrival,
            Traced::Retry,
            Traced::StatementDone,
            Traced::TimelineAction,
            Traced::Executed,
            Traced::Failed,
            Traced::Completed,
            Traced::ThinkDone,
            Traced::LockWait,
            Traced::LockGranted,
            Traced::Deadlock,
            Traced::LockTimedOut,
            Traced::ConnectorPoll,
            Traced::ConnectorFlush,
            Traced::ConsumerPoll,
            Traced::Clean,
            Traced::EtlStart,
            Traced::Arrived,
            Traced::Returned,
        ];
        let mut codes: Vec<u8> = all.iter().map(|t| t.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
