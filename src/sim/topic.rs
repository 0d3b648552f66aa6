//! A topic of the event log, with Kafka's semantics: partitions, offsets, the high watermark,
//! retention by time and by size, and log compaction.
//!
//! Models one Kafka topic on a broker: a keyed message goes to the partition Kafka's default
//! partitioner picks ([`crate::sim::partitioner`]); each partition gives its messages consecutive
//! offsets from 0; a message becomes readable (the high watermark passes it) after the broker's
//! produce→visible latency, which stands for replication to the in-sync replicas. Retention
//! deletes the oldest messages by age (`retention.ms`) or by the partition's size
//! (`retention.bytes`), moving the log start offset; compaction (`cleanup.policy=compact`) keeps
//! only the latest message per key and drops tombstones once they are older than
//! `delete.retention.ms`, leaving gaps in the offsets as Kafka does.
//!
//! Simplifications: one broker, no segments — retention and compaction work message by message
//! (Kafka works segment by segment, and never cleans the active segment); compaction cleans the
//! whole readable log each time it runs; messages without a key go round-robin (Kafka's sticky
//! partitioner depends on batching, which the simulation does not have).

use crate::sim::clock::{Micros, MS};
use crate::sim::partitioner::partition_for_key;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A message's position in a partition.
pub type Offset = u64;

/// How a topic is set up (Kafka's topic configs).
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    /// Number of partitions (at least one).
    pub partitions: u32,
    /// `retention.ms`: messages older than this are deleted (`None`: kept for ever).
    pub retention: Option<Micros>,
    /// `retention.bytes`: a partition larger than this loses its oldest messages.
    pub retention_bytes: Option<usize>,
    /// `cleanup.policy=compact`: keep the latest message per key.
    pub compact: bool,
    /// `delete.retention.ms`: how long a compacted topic keeps a tombstone.
    pub delete_retention: Micros,
    /// Time from a produce to the message being readable (replication to the in-sync replicas).
    pub broker_latency: Micros,
}

impl Default for TopicConfig {
    /// Kafka's defaults where they make sense in a simulation of minutes: one partition, kept
    /// for 7 days, no size limit, `delete` policy, tombstones kept 1 day, 2 ms to be readable.
    fn default() -> Self {
        Self {
            partitions: 1,
            retention: Some(7 * 24 * 3_600 * 1_000 * MS),
            retention_bytes: None,
            compact: false,
            delete_retention: 24 * 3_600 * 1_000 * MS,
            broker_latency: 2 * MS,
        }
    }
}

/// A message's value as its producer serialized it.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// JSON text (Kafka Connect's `JsonConverter`, as the CDC topics carry Debezium's events).
    Json(Rc<str>),
    /// Binary bytes: an Avro value in Confluent's wire format ([`crate::sim::avro_wire`]).
    Bytes(Rc<[u8]>),
}

impl Payload {
    /// Its length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::Json(text) => text.len(),
            Self::Bytes(bytes) => bytes.len(),
        }
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A record header: a name and its value (Kafka's header values are bytes; here, text).
pub type Header = (Rc<str>, Rc<str>);

/// One message in a partition.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Its offset in the partition.
    pub offset: Offset,
    /// The serialized key (JSON text, or an outbox event's aggregate id), if any.
    pub key: Option<Rc<str>>,
    /// The serialized value; `None` is a tombstone.
    pub value: Option<Payload>,
    /// Its headers (an outbox event's `id` and `type`); `None` when it has none.
    pub headers: Option<Rc<[Header]>>,
    /// The record's timestamp: when it was produced (Kafka's `CreateTime`), or the time its
    /// producer set (the outbox router sets the event's commit time).
    pub timestamp: Micros,
    /// When it became readable (produced + the broker's latency).
    pub visible_at: Micros,
}

impl Message {
    /// Its size for `retention.bytes`: key, value and header bytes.
    pub fn size(&self) -> usize {
        self.key.as_deref().map_or(0, str::len)
            + self.value.as_ref().map_or(0, Payload::len)
            + self
                .headers
                .as_deref()
                .map_or(0, |h| h.iter().map(|(k, v)| k.len() + v.len()).sum())
    }

    /// Its value as JSON text, if it is JSON.
    pub fn json(&self) -> Option<&str> {
        match &self.value {
            Some(Payload::Json(text)) => Some(text),
            _ => None,
        }
    }

    /// The value of its header `name`, if it has one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .as_deref()?
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    }
}

/// A partition's messages, oldest first: a persistent vector (imbl's RRB tree, `Rc` nodes), so
/// that a checkpoint of the world shares every chunk of the log that later appends and cleaning
/// did not touch, where a `VecDeque` was copied whole by each.
type Log = imbl::GenericVector<Message, imbl::shared_ptr::RcK>;

/// One partition: an append-only log of messages.
#[derive(Debug, Clone, Default)]
pub struct Partition {
    messages: Log,
    /// The log start offset: the first offset still kept (retention moves it).
    log_start: Offset,
    /// The log end offset: the offset the next message gets.
    log_end: Offset,
    bytes: usize,
}

impl Partition {
    /// The first offset still kept.
    pub fn log_start_offset(&self) -> Offset {
        self.log_start
    }

    /// The offset the next message gets.
    pub fn log_end_offset(&self) -> Offset {
        self.log_end
    }

    /// The high watermark at `now`: consumers read the offsets below it.
    pub fn high_watermark(&self, now: Micros) -> Offset {
        // Visibility is in offset order (`append` keeps it so): the first message not yet
        // visible is found by halving, not by reading the log from its start at every fetch.
        let first_hidden = self
            .messages
            .binary_search_by(|m| {
                if m.visible_at > now {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Less
                }
            })
            .unwrap_or_else(|position| position);
        self.messages
            .get(first_hidden)
            .map_or(self.log_end, |m| m.offset)
    }

    /// The messages kept, oldest first.
    pub fn messages(&self) -> impl DoubleEndedIterator<Item = &Message> {
        self.messages.iter()
    }

    /// Messages kept.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether no message is kept.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The first kept message at or after `offset`.
    fn position(&self, offset: Offset) -> usize {
        self.messages
            .binary_search_by(|m| m.offset.cmp(&offset))
            .unwrap_or_else(|insert_at| insert_at)
    }

    /// The message at `offset`, if it is kept.
    pub fn get(&self, offset: Offset) -> Option<&Message> {
        self.messages
            .get(self.position(offset))
            .filter(|m| m.offset == offset)
    }

    /// Up to `max` readable messages from `offset` on (a compacted partition may skip offsets).
    pub fn fetch(&self, offset: Offset, max: usize, now: Micros) -> Vec<&Message> {
        let high_watermark = self.high_watermark(now);
        self.messages
            .focus()
            .narrow(self.position(offset)..)
            .into_iter()
            .take_while(|m| m.offset < high_watermark)
            .take(max)
            .collect()
    }

    /// The oldest readable message at or after `offset`: what a consumer at `offset` reads
    /// next, for its lag in time.
    pub fn next_readable(&self, offset: Offset, now: Micros) -> Option<&Message> {
        self.fetch(offset, 1, now).into_iter().next()
    }

    fn append(&mut self, mut message: Message) -> Offset {
        let offset = self.log_end;
        message.offset = offset;
        // A partition's messages become readable in offset order (the high watermark only
        // moves forward): one that arrived sooner than the one before waits for it.
        if let Some(last) = self.messages.back() {
            message.visible_at = message.visible_at.max(last.visible_at);
        }
        self.bytes += message.size();
        self.messages.push_back(message);
        self.log_end += 1;
        offset
    }

    fn drop_front(&mut self) {
        if let Some(message) = self.messages.pop_front() {
            self.bytes -= message.size();
            self.log_start = self.messages.front().map_or(self.log_end, |m| m.offset);
        }
    }
}

/// What a produce did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    /// The partition.
    pub partition: u32,
    /// The offset in it.
    pub offset: Offset,
}

/// What a retention or compaction pass removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cleaned {
    /// Messages deleted by retention (age or size).
    pub expired: u64,
    /// Messages removed by compaction because a later one has the same key.
    pub compacted: u64,
    /// Tombstones removed by compaction after `delete.retention.ms`.
    pub tombstones: u64,
}

/// A topic.
#[derive(Debug, Clone)]
pub struct Topic {
    /// Its name (`shop.public.orders`).
    pub name: String,
    /// Its configuration.
    pub config: TopicConfig,
    partitions: Vec<Partition>,
    next_unkeyed: u32,
    cleaned: Cleaned,
}

impl Topic {
    /// An empty topic.
    pub fn new(name: impl Into<String>, config: TopicConfig) -> Self {
        let count = config.partitions.max(1) as usize;
        Self {
            name: name.into(),
            config,
            partitions: vec![Partition::default(); count],
            next_unkeyed: 0,
            cleaned: Cleaned::default(),
        }
    }

    /// The partitions, by number.
    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    /// Partition `number`, if there is one.
    pub fn partition(&self, number: u32) -> Option<&Partition> {
        self.partitions.get(number as usize)
    }

    /// The partition a message with this serialized key goes to.
    pub fn partition_of(&self, key: &str) -> u32 {
        partition_for_key(key.as_bytes(), self.partitions.len() as u32)
    }

    /// Appends a message at `now`: a keyed one to its key's partition, an unkeyed one to the
    /// next partition in turn.
    pub fn produce(
        &mut self,
        key: Option<Rc<str>>,
        value: Option<Rc<str>>,
        now: Micros,
    ) -> Produced {
        self.produce_record(key, value.map(Payload::Json), None, now, now)
    }

    /// Appends a message with headers and a timestamp of its producer's choosing at `now`
    /// (readable after the broker's latency), to its key's partition as [`Topic::produce`].
    pub fn produce_record(
        &mut self,
        key: Option<Rc<str>>,
        value: Option<Payload>,
        headers: Option<Rc<[Header]>>,
        timestamp: Micros,
        now: Micros,
    ) -> Produced {
        let count = self.partitions.len() as u32;
        let partition = match key.as_deref() {
            Some(key) => partition_for_key(key.as_bytes(), count),
            None => {
                let p = self.next_unkeyed % count;
                self.next_unkeyed = self.next_unkeyed.wrapping_add(1);
                p
            }
        };
        let message = Message {
            offset: 0,
            key,
            value,
            headers,
            timestamp,
            visible_at: now.saturating_add(self.config.broker_latency),
        };
        let offset = self.partitions[partition as usize].append(message);
        Produced { partition, offset }
    }

    /// Runs retention (and compaction, for a compacted topic) at `now`.
    pub fn clean(&mut self, now: Micros) -> Cleaned {
        let mut cleaned = Cleaned::default();
        for partition in &mut self.partitions {
            if let Some(retention) = self.config.retention {
                while partition
                    .messages
                    .front()
                    .is_some_and(|m| now.saturating_sub(m.timestamp) > retention)
                {
                    partition.drop_front();
                    cleaned.expired += 1;
                }
            }
            if let Some(limit) = self.config.retention_bytes {
                while partition.bytes > limit && !partition.messages.is_empty() {
                    partition.drop_front();
                    cleaned.expired += 1;
                }
            }
            if self.config.compact {
                let (compacted, tombstones) = compact(partition, now, self.config.delete_retention);
                cleaned.compacted += compacted;
                cleaned.tombstones += tombstones;
            }
        }
        self.cleaned.expired += cleaned.expired;
        self.cleaned.compacted += cleaned.compacted;
        self.cleaned.tombstones += cleaned.tombstones;
        cleaned
    }

    /// Everything retention and compaction removed so far.
    pub fn cleaned(&self) -> Cleaned {
        self.cleaned
    }

    /// Messages kept, over every partition.
    pub fn len(&self) -> usize {
        self.partitions.iter().map(Partition::len).sum()
    }

    /// Whether no message is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Messages ever produced, over every partition (the sum of the log end offsets).
    pub fn produced(&self) -> u64 {
        self.partitions.iter().map(|p| p.log_end).sum()
    }
}

/// Compacts the readable part of a partition: removes every keyed message that a later message
/// with the same key supersedes, then the tombstones older than `delete_retention`. Returns
/// (messages compacted away, tombstones removed).
fn compact(partition: &mut Partition, now: Micros, delete_retention: Micros) -> (u64, u64) {
    let high_watermark = partition.high_watermark(now);
    let mut latest: BTreeMap<Rc<str>, Offset> = BTreeMap::new();
    for message in partition
        .messages
        .iter()
        .take_while(|m| m.offset < high_watermark)
    {
        if let Some(key) = &message.key {
            latest.insert(key.clone(), message.offset);
        }
    }
    // Whether compaction removes `m`: superseded by a later message with its key, or a
    // tombstone past `delete.retention.ms` (`Some(true)`).
    let removed = |m: &Message| -> Option<bool> {
        if m.offset >= high_watermark {
            return None;
        }
        let key = m.key.as_ref()?;
        if latest.get(key) != Some(&m.offset) {
            Some(false)
        } else if m.value.is_none() && now.saturating_sub(m.timestamp) > delete_retention {
            Some(true)
        } else {
            None
        }
    };
    // The log is rebuilt from its first removed message on: the chunks before it stay shared
    // with the checkpoints that hold them (a pass that removes nothing copies nothing).
    let Some(first) = partition.messages.iter().position(|m| removed(m).is_some()) else {
        return (0, 0);
    };
    let (mut compacted, mut tombstones) = (0, 0);
    let rest = partition.messages.split_off(first);
    for message in rest {
        match removed(&message) {
            None => partition.messages.push_back(message),
            Some(tombstone) => {
                partition.bytes -= message.size();
                if tombstone {
                    tombstones += 1;
                } else {
                    compacted += 1;
                }
            }
        }
    }
    // The log start offset stays: compaction leaves gaps, it does not move the log's start.
    (compacted, tombstones)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Option<Rc<str>> {
        Some(Rc::from(s))
    }

    #[test]
    fn keyed_messages_go_to_their_keys_partition_with_consecutive_offsets() {
        let mut topic = Topic::new(
            "t",
            TopicConfig {
                partitions: 3,
                ..TopicConfig::default()
            },
        );
        let key = "{\"id\":1}";
        let p = topic.partition_of(key);
        assert_eq!(p, partition_for_key(key.as_bytes(), 3));
        let first = topic.produce(text(key), text("a"), 0);
        let second = topic.produce(text(key), text("b"), 0);
        assert_eq!(
            first,
            Produced {
                partition: p,
                offset: 0
            }
        );
        assert_eq!(
            second,
            Produced {
                partition: p,
                offset: 1
            }
        );
        assert_eq!(topic.produced(), 2);
    }

    #[test]
    fn the_high_watermark_passes_a_message_after_the_broker_latency() {
        let mut topic = Topic::new("t", TopicConfig::default());
        let latency = topic.config.broker_latency;
        topic.produce(text("k"), text("v"), 1_000);
        let partition = topic.partition(0).expect("one partition");
        assert_eq!(partition.high_watermark(1_000), 0);
        assert!(partition.fetch(0, 10, 1_000).is_empty());
        assert_eq!(partition.high_watermark(1_000 + latency), 1);
        assert_eq!(partition.fetch(0, 10, 1_000 + latency).len(), 1);
    }

    #[test]
    fn the_high_watermark_is_the_first_message_not_yet_visible_whatever_the_log() {
        // Messages produced at uneven times, some sooner than the one before (they wait for
        // it), then compacted (gaps in the offsets): the watermark found by halving is the one
        // a reading from the start finds, at every moment.
        let mut topic = Topic::new(
            "t",
            TopicConfig {
                partitions: 1,
                compact: true,
                ..TopicConfig::default()
            },
        );
        let times = [0, 5, 5, 3, 40, 41, 41, 90, 60, 200, 201, 350];
        for (i, at) in times.iter().enumerate() {
            topic.produce(text(&format!("k{}", i % 4)), text("v"), at * 1_000);
        }
        let last = times.iter().max().copied().unwrap_or_default() * 1_000;
        topic.clean(last / 2);
        let partition = topic.partition(0).expect("one partition");
        let latency = topic.config.broker_latency;
        for now in (0..=last + latency + 2_000).step_by(500) {
            let read = partition
                .messages()
                .find(|m| m.visible_at > now)
                .map_or(partition.log_end_offset(), |m| m.offset);
            assert_eq!(partition.high_watermark(now), read, "at {now} µs");
        }
    }

    #[test]
    fn retention_by_time_and_by_size_moves_the_log_start() {
        let mut topic = Topic::new(
            "t",
            TopicConfig {
                retention: Some(10 * MS),
                ..TopicConfig::default()
            },
        );
        for i in 0..5 {
            topic.produce(text("k"), text("v"), i * 5 * MS);
        }
        let cleaned = topic.clean(25 * MS);
        assert_eq!(
            cleaned.expired, 3,
            "produced at 0, 5 and 10 ms are older than 10 ms"
        );
        let partition = topic.partition(0).expect("one partition");
        assert_eq!(partition.log_start_offset(), 3);
        assert_eq!(partition.log_end_offset(), 5);

        let mut topic = Topic::new(
            "t",
            TopicConfig {
                retention_bytes: Some(10),
                ..TopicConfig::default()
            },
        );
        for _ in 0..5 {
            topic.produce(text("kk"), text("vvv"), 0);
        }
        topic.clean(0);
        let partition = topic.partition(0).expect("one partition");
        assert!(partition.bytes() <= 10);
        assert_eq!(partition.messages().count(), 2);
        assert_eq!(partition.log_start_offset(), 3);
    }

    #[test]
    fn compaction_keeps_the_latest_value_per_key_and_drops_old_tombstones() {
        let mut topic = Topic::new(
            "t",
            TopicConfig {
                compact: true,
                retention: None,
                delete_retention: 100 * MS,
                broker_latency: 0,
                ..TopicConfig::default()
            },
        );
        topic.produce(text("a"), text("1"), 0);
        topic.produce(text("b"), text("1"), 0);
        topic.produce(text("a"), text("2"), 0);
        topic.produce(text("b"), None, 0);
        let cleaned = topic.clean(MS);
        assert_eq!(cleaned.compacted, 2);
        assert_eq!(
            cleaned.tombstones, 0,
            "the tombstone is younger than delete.retention.ms"
        );
        let offsets: Vec<Offset> = topic.partitions()[0].messages().map(|m| m.offset).collect();
        assert_eq!(offsets, [2, 3], "offsets keep their gaps");
        assert_eq!(topic.partitions()[0].fetch(0, 10, MS).len(), 2);
        let cleaned = topic.clean(200 * MS);
        assert_eq!(cleaned.tombstones, 1);
        let values: Vec<Option<&str>> =
            topic.partitions()[0].messages().map(|m| m.json()).collect();
        assert_eq!(values, [Some("2")]);
        assert_eq!(topic.cleaned().compacted, 2);
    }

    #[test]
    fn compaction_leaves_messages_not_yet_readable() {
        let mut topic = Topic::new(
            "t",
            TopicConfig {
                compact: true,
                broker_latency: 10 * MS,
                ..TopicConfig::default()
            },
        );
        topic.produce(text("a"), text("1"), 0);
        topic.produce(text("a"), text("2"), 5 * MS);
        let cleaned = topic.clean(11 * MS);
        assert_eq!(cleaned.compacted, 0, "offset 1 is above the high watermark");
        assert_eq!(topic.len(), 2);
    }

    #[test]
    fn unkeyed_messages_go_round_robin() {
        let mut topic = Topic::new(
            "t",
            TopicConfig {
                partitions: 2,
                ..TopicConfig::default()
            },
        );
        let parts: Vec<u32> = (0..4)
            .map(|_| topic.produce(None, text("v"), 0).partition)
            .collect();
        assert_eq!(parts, [0, 1, 0, 1]);
    }
}
