//! A Kafka consumer group: members, the range assignor, committed offsets, rebalances and lag.
//!
//! Models the group coordinator's view of one group. Members subscribe to the group's topics;
//! every partition is assigned to exactly one live member by Kafka's `RangeAssignor` (per topic,
//! members sorted by id, partitions in order, the first `P mod C` members one extra). A member
//! joining or leaving starts a rebalance, during which nobody in the group consumes; a member
//! that crashes keeps its partitions — unconsumed — until the coordinator notices it missed its
//! heartbeats (`session.timeout.ms`), then leaves. Offsets are committed per partition; a
//! partition without a committed offset starts at the log start (`auto.offset.reset=earliest`).
//! Lag is reported in messages (high watermark − committed offset) and in time (the age of the
//! oldest unconsumed message).
//!
//! Simplifications: one coordinator, no generation fencing of late commits, the rebalance takes
//! a fixed time.

use crate::sim::clock::Micros;
use crate::sim::topic::{Offset, Topic};
use std::collections::{BTreeMap, BTreeSet};

/// A partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// The topic.
    pub topic: String,
    /// The partition's number.
    pub partition: u32,
}

/// One partition's lag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    /// The partition.
    pub partition: TopicPartition,
    /// Where the group is (the committed offset, or the log start if none).
    pub committed: Offset,
    /// The high watermark.
    pub high_watermark: Offset,
    /// Messages not consumed yet: high watermark − committed (at least 0).
    pub messages: u64,
    /// Age of the oldest unconsumed message (0 if none).
    pub age: Micros,
}

/// A consumer group.
#[derive(Debug, Clone)]
pub struct ConsumerGroup {
    /// The group's id (`billing`).
    pub name: String,
    topics: Vec<String>,
    members: BTreeSet<String>,
    crashed: BTreeSet<String>,
    assignment: BTreeMap<String, Vec<TopicPartition>>,
    committed: BTreeMap<TopicPartition, Offset>,
    generation: u32,
    rebalancing_until: Micros,
    rebalances: u64,
    /// How long a rebalance pauses consumption.
    pub rebalance_time: Micros,
}

impl ConsumerGroup {
    /// An empty group subscribed to `topics`.
    pub fn new(name: impl Into<String>, topics: Vec<String>, rebalance_time: Micros) -> Self {
        Self {
            name: name.into(),
            topics,
            members: BTreeSet::new(),
            crashed: BTreeSet::new(),
            assignment: BTreeMap::new(),
            committed: BTreeMap::new(),
            generation: 0,
            rebalancing_until: 0,
            rebalances: 0,
            rebalance_time,
        }
    }

    /// The topics the group reads.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// The members, by id.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(String::as_str)
    }

    /// The group's generation: one more at every rebalance.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// How many rebalances there have been.
    pub fn rebalances(&self) -> u64 {
        self.rebalances
    }

    /// Whether a rebalance holds consumption at `now`.
    pub fn is_rebalancing(&self, now: Micros) -> bool {
        now < self.rebalancing_until
    }

    /// Adds `member` and rebalances; `partitions` says how many partitions a topic has.
    pub fn join(&mut self, member: &str, partitions: impl Fn(&str) -> u32, now: Micros) {
        self.crashed.remove(member);
        if self.members.insert(member.to_owned()) {
            self.rebalance(partitions, now);
        }
    }

    /// Removes `member` (it left, or the coordinator gave up on it) and rebalances.
    pub fn leave(&mut self, member: &str, partitions: impl Fn(&str) -> u32, now: Micros) {
        self.crashed.remove(member);
        if self.members.remove(member) {
            self.rebalance(partitions, now);
        }
    }

    /// `member` stops without leaving: its partitions go unconsumed until it is removed with
    /// [`Self::leave`] once the session timeout has passed.
    pub fn crash(&mut self, member: &str) {
        if self.members.contains(member) {
            self.crashed.insert(member.to_owned());
        }
    }

    /// Whether `member` is in the group and alive.
    pub fn is_live(&self, member: &str) -> bool {
        self.members.contains(member) && !self.crashed.contains(member)
    }

    /// The partitions assigned to `member`.
    pub fn assignment(&self, member: &str) -> &[TopicPartition] {
        self.assignment.get(member).map_or(&[], Vec::as_slice)
    }

    /// Who consumes `partition` now, if anyone.
    pub fn owner_of(&self, partition: &TopicPartition) -> Option<&str> {
        self.assignment
            .iter()
            .find(|(_, parts)| parts.contains(partition))
            .map(|(member, _)| member.as_str())
    }

    /// Commits `offset` (the next offset to read) for `partition`.
    pub fn commit(&mut self, partition: TopicPartition, offset: Offset) {
        self.committed.insert(partition, offset);
    }

    /// The committed offset of `partition`, if any.
    pub fn committed(&self, partition: &TopicPartition) -> Option<Offset> {
        self.committed.get(partition).copied()
    }

    /// Where consumption of `partition` (re)starts: the committed offset, or the topic's log
    /// start when there is none or it fell out of retention.
    pub fn position(&self, partition: &TopicPartition, topic: &Topic) -> Offset {
        let start = topic
            .partition(partition.partition)
            .map_or(0, |p| p.log_start_offset());
        self.committed(partition).map_or(start, |c| c.max(start))
    }

    /// Forgets every committed offset, so that the group reads its topics from the beginning
    /// again (`kafka-consumer-groups --reset-offsets --to-earliest`, for a rebuild).
    pub fn reset_to_earliest(&mut self) {
        self.committed.clear();
    }

    /// The lag of every partition of `topic` at `now`.
    pub fn lag(&self, topic: &Topic, now: Micros) -> Vec<PartitionLag> {
        (0..topic.partitions().len() as u32)
            .map(|number| {
                let tp = TopicPartition {
                    topic: topic.name.clone(),
                    partition: number,
                };
                let committed = self.position(&tp, topic);
                let (high_watermark, age) = topic.partition(number).map_or((0, 0), |p| {
                    let age = p
                        .next_readable(committed, now)
                        .map_or(0, |m| now.saturating_sub(m.timestamp));
                    (p.high_watermark(now), age)
                });
                PartitionLag {
                    partition: tp,
                    committed,
                    high_watermark,
                    messages: high_watermark.saturating_sub(committed),
                    age,
                }
            })
            .collect()
    }

    /// Reassigns every partition of the group's topics over the members with Kafka's range
    /// assignor, and pauses consumption for the rebalance.
    fn rebalance(&mut self, partitions: impl Fn(&str) -> u32, now: Micros) {
        self.generation += 1;
        self.rebalances += 1;
        self.rebalancing_until = now.saturating_add(self.rebalance_time);
        self.assignment = range_assign(&self.members, &self.topics, partitions);
    }
}

/// Kafka's `RangeAssignor`: per topic, the members in id order each get a contiguous range of
/// partitions; the first `P mod C` get one more.
pub fn range_assign(
    members: &BTreeSet<String>,
    topics: &[String],
    partitions: impl Fn(&str) -> u32,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut assignment: BTreeMap<String, Vec<TopicPartition>> =
        members.iter().map(|m| (m.clone(), Vec::new())).collect();
    let count = members.len() as u32;
    if count == 0 {
        return assignment;
    }
    for topic in topics {
        let total = partitions(topic);
        let (each, extra) = (total / count, total % count);
        for (i, member) in members.iter().enumerate() {
            let i = i as u32;
            let start = i * each + i.min(extra);
            let length = each + u32::from(i < extra);
            if let Some(list) = assignment.get_mut(member) {
                list.extend((start..start + length).map(|partition| TopicPartition {
                    topic: topic.clone(),
                    partition,
                }));
            }
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock::MS;
    use crate::sim::topic::TopicConfig;
    use std::rc::Rc;

    fn members(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    fn numbers(list: &[TopicPartition]) -> Vec<(String, u32)> {
        list.iter()
            .map(|tp| (tp.topic.clone(), tp.partition))
            .collect()
    }

    /// The example of Kafka's `RangeAssignor` documentation: two consumers C0 and C1, two
    /// topics t0 and t1 of three partitions each: C0 gets t0p0, t0p1, t1p0, t1p1 and C1 gets
    /// t0p2, t1p2.
    #[test]
    fn the_range_assignor_gives_kafkas_documented_assignment() {
        let topics = vec!["t0".to_owned(), "t1".to_owned()];
        let assignment = range_assign(&members(&["C0", "C1"]), &topics, |_| 3);
        let t = |topic: &str, p| (topic.to_owned(), p);
        assert_eq!(
            numbers(&assignment["C0"]),
            [t("t0", 0), t("t0", 1), t("t1", 0), t("t1", 1)]
        );
        assert_eq!(numbers(&assignment["C1"]), [t("t0", 2), t("t1", 2)]);
    }

    #[test]
    fn every_partition_has_exactly_one_owner() {
        for count in 1..6 {
            let ids: Vec<String> = (0..count).map(|i| format!("m{i}")).collect();
            let set: BTreeSet<String> = ids.iter().cloned().collect();
            let assignment = range_assign(&set, &["t".to_owned()], |_| 7);
            let mut all: Vec<u32> = assignment
                .values()
                .flatten()
                .map(|tp| tp.partition)
                .collect();
            all.sort_unstable();
            assert_eq!(all, (0..7).collect::<Vec<_>>(), "{count} members");
        }
    }

    #[test]
    fn joining_and_leaving_rebalance_and_pause_consumption() {
        let mut group = ConsumerGroup::new("g", vec!["t".to_owned()], 100 * MS);
        group.join("a", |_| 4, 0);
        assert_eq!(group.assignment("a").len(), 4);
        assert!(group.is_rebalancing(50 * MS));
        assert!(!group.is_rebalancing(100 * MS));
        group.join("b", |_| 4, 200 * MS);
        assert_eq!(group.generation(), 2);
        assert_eq!(group.assignment("a").len(), 2);
        assert_eq!(group.assignment("b").len(), 2);
        group.crash("b");
        assert!(!group.is_live("b"));
        assert_eq!(
            group.assignment("b").len(),
            2,
            "a crashed member keeps its partitions"
        );
        group.leave("b", |_| 4, 500 * MS);
        assert_eq!(group.assignment("a").len(), 4);
        assert_eq!(group.rebalances(), 3);
    }

    #[test]
    fn lag_counts_messages_and_the_age_of_the_oldest_unconsumed() {
        let mut topic = Topic::new(
            "t",
            TopicConfig {
                broker_latency: 0,
                ..TopicConfig::default()
            },
        );
        for i in 0..5 {
            topic.produce(Some(Rc::from("k")), Some(Rc::from("v")), i * 10 * MS);
        }
        let mut group = ConsumerGroup::new("g", vec!["t".to_owned()], 0);
        let tp = TopicPartition {
            topic: "t".to_owned(),
            partition: 0,
        };
        let lag = group.lag(&topic, 100 * MS);
        assert_eq!(lag[0].messages, 5);
        assert_eq!(lag[0].age, 100 * MS);
        group.commit(tp.clone(), 3);
        let lag = group.lag(&topic, 100 * MS);
        assert_eq!(lag[0].messages, 2);
        assert_eq!(lag[0].age, 70 * MS, "offset 3 was produced at 30 ms");
        group.commit(tp.clone(), 5);
        assert_eq!(group.lag(&topic, 100 * MS)[0].age, 0);
        group.reset_to_earliest();
        assert_eq!(group.position(&tp, &topic), 0);
    }
}
