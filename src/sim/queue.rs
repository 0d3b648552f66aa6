//! The event queue: what happens next, in time order, first scheduled first out on ties.
//!
//! A binary heap ordered by (time, insertion sequence), as in discrete-event simulators such as
//! nexosim: two events at the same microsecond come out in the order they were scheduled, so a
//! run never depends on the heap's internal order.

use crate::sim::clock::Micros;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

#[derive(Clone)]
struct Entry<E> {
    at: Micros,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Events of type `E` waiting for their time.
#[derive(Clone)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `event` at time `at`.
    pub fn schedule(&mut self, at: Micros, event: E) {
        self.heap.push(Reverse(Entry {
            at,
            seq: self.next_seq,
            event,
        }));
        self.next_seq += 1;
    }

    /// The time of the next event, if any.
    pub fn peek_time(&self) -> Option<Micros> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Takes the next event if it is due at or before `until`.
    pub fn pop_until(&mut self, until: Micros) -> Option<(Micros, E)> {
        if self.peek_time()? > until {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| (e.at, e.event))
    }

    /// How many events wait.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_in_time_order_and_fifo_on_ties() {
        let mut queue = EventQueue::default();
        queue.schedule(30, "c");
        queue.schedule(10, "a");
        queue.schedule(30, "d");
        queue.schedule(10, "b");
        assert_eq!(queue.pop_until(5), None);
        let order: Vec<&str> =
            std::iter::from_fn(|| queue.pop_until(100).map(|(_, e)| e)).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
        assert!(queue.is_empty());
    }
}
