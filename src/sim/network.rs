//! The network: every statement a client sends to its database, and every message between a
//! pipeline's components and the broker, crosses a link with a round-trip time (RTT) and
//! seeded jitter — so latencies are not flat lines, a chatty operation (many statements) pays a
//! round trip per statement, and every extra hop of a pipeline adds its crossing.
//!
//! **What it imitates.** A link between two endpoints of one data centre: a fixed propagation
//! and switching time (the RTT) plus queueing delay that is usually small and now and then
//! large. Each crossing, either way, draws its own delay: half the RTT, plus an exponentially
//! distributed extra with a mean of half the `jitter`, so that a round trip averages
//! `rtt + jitter` and has the long right tail measured networks show. Each client's link draws
//! from its own random stream (seeded by the run's seed and the client's name), so adding a
//! service or a consumer does not change the delays any other client draws, and a service
//! draws the same delays in every integration mode.
//!
//! **Where the model is used.**
//! - A statement crosses from its client to the database, runs, and its reply crosses back:
//!   an operation pays a round trip per statement, and a transaction holds its locks across
//!   the round trips between its statements. The transaction's locks go at the server, when
//!   its last statement (or a failure, which aborts it) ends — before the reply is back.
//!   `BEGIN` travels with the first statement, as drivers send it.
//! - A produced message (a connector, a relay) keeps its send time as its timestamp and is
//!   readable one crossing later, plus the broker's own latency. Simplification: it is in the
//!   partition's log (and in its end offset) from the moment it is sent.
//! - A consumer's fetch: Kafka's consumers long-poll, so a fetch is already waiting at the
//!   broker; a readable message reaches the consumer one crossing later.
//!
//! **Where it differs from a real network.** No bandwidth (a 20,000-row result crosses as fast
//! as one row), no loss and no retransmission, no reordering within a connection, no connection
//! or TLS set-up (the pools' connections are open), and no correlation between crossings (a
//! congested link delays each crossing independently).

use crate::sim::clock::{Micros, SimDuration, SECOND};
use crate::sim::rng::SimRng;
use crate::sim::scenario::ScenarioError;
use fnv::FnvHasher;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::hash::Hasher;

/// The message broker's name as a link's endpoint (`to = "broker"`).
pub const BROKER: &str = "broker";

/// The console's name as a link's endpoint.
pub const CONSOLE: &str = "console";

/// The timeline's client's name as a link's endpoint.
pub const TIMELINE: &str = "timeline";

/// The ETL job's clients' name as a link's endpoint.
pub const ETL: &str = "etl";

/// Endpoints that are not services: the simulation's own clients.
pub const INTERNAL_CLIENTS: [&str; 3] = [CONSOLE, TIMELINE, ETL];

/// The scenario's `[network]` table: the default link, and the links that differ from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Every link's round-trip time unless `links` says otherwise. Default `"0.3ms"`: a client
    /// and its database in one availability zone.
    #[serde(default = "default_rtt")]
    pub rtt: SimDuration,
    /// The mean extra delay of a round trip, drawn per crossing (exponentially distributed,
    /// seeded): `"0ms"` makes every crossing take exactly half the RTT. Default `"0.1ms"`.
    #[serde(default = "default_jitter")]
    pub jitter: SimDuration,
    /// Links that differ from the default (`[[network.links]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkSpec>,
}

fn default_rtt() -> SimDuration {
    SimDuration(300)
}

fn default_jitter() -> SimDuration {
    SimDuration(100)
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            rtt: default_rtt(),
            jitter: default_jitter(),
            links: Vec::new(),
        }
    }
}

impl NetworkSpec {
    /// Checks that every link joins a client and a database (`databases`: the scenario's and
    /// the ETL job's) or the broker of the scenario, once, and takes at most a minute.
    ///
    /// # Errors
    ///
    /// The first link that does not, with its field's path.
    pub fn check(&self, services: &[&str], databases: &[&str]) -> Result<(), ScenarioError> {
        let minute = 60 * SECOND;
        for (field, value) in [("rtt", self.rtt), ("jitter", self.jitter)] {
            if value.micros() > minute {
                return Err(ScenarioError::at(
                    format!("network.{field}"),
                    "must be at most 1m",
                ));
            }
        }
        let clients: Vec<String> = services
            .iter()
            .flat_map(|s| [(*s).to_owned(), format!("{s}-connector")])
            .chain(INTERNAL_CLIENTS.iter().map(|c| (*c).to_owned()))
            .collect();
        let ends: Vec<&str> = databases
            .iter()
            .chain(services)
            .copied()
            .chain([BROKER])
            .collect();
        for (i, link) in self.links.iter().enumerate() {
            let at = format!("network.links[{i}]");
            let is_client = |name: &str| clients.iter().any(|c| c == name);
            let is_end = |name: &str| ends.contains(&name);
            if !is_client(&link.from) && !is_client(&link.to) {
                return Err(ScenarioError::at(
                    format!("{at}.from"),
                    format!(
                        "is \"{}\", which is not a client: name a service, a connector \
                         (\"<service>-connector\"), console, timeline or etl",
                        link.from
                    ),
                ));
            }
            let other = if is_client(&link.from) {
                (&link.to, "to")
            } else {
                (&link.from, "from")
            };
            if !is_end(other.0) {
                return Err(ScenarioError::at(
                    format!("{at}.{}", other.1),
                    format!(
                        "is \"{}\", which is not a database or \"{BROKER}\" (databases: {})",
                        other.0,
                        databases.join(", ")
                    ),
                ));
            }
            for (field, value) in [("rtt", link.rtt), ("jitter", link.jitter)] {
                if value.is_some_and(|v| v.micros() > minute) {
                    return Err(ScenarioError::at(
                        format!("{at}.{field}"),
                        "must be at most 1m",
                    ));
                }
            }
            if self.links[..i]
                .iter()
                .any(|l| l.joins(&link.from, &link.to))
            {
                return Err(ScenarioError::at(
                    at,
                    format!("joins {} and {} again", link.from, link.to),
                ));
            }
        }
        Ok(())
    }
}

/// One link that differs from the default: between a client (`from`) and a database or the
/// broker (`to`); the order of the two does not matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// One end: a service, a connector (`orders-connector`), `console`, `timeline` or `etl`.
    /// A service's consumer group runs in the service, so it uses the service's links.
    pub from: String,
    /// The other end: a database, or `broker`. In the `cdc` and `events` modes each service has
    /// a database of its own, named after the service.
    pub to: String,
    /// Its round-trip time (default: the network's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt: Option<SimDuration>,
    /// Its mean jitter per round trip (default: the network's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<SimDuration>,
}

impl LinkSpec {
    fn joins(&self, a: &str, b: &str) -> bool {
        (self.from == a && self.to == b) || (self.from == b && self.to == a)
    }
}

/// A link's index in its [`Network`].
pub type LinkId = usize;

/// A client's link as a run uses it: its client, its two ends, its settings, its random stream
/// and what crossed it.
#[derive(Debug, Clone)]
struct Link {
    client: String,
    from: String,
    to: String,
    rtt: Micros,
    jitter: Micros,
    rng: SimRng,
    crossings: u64,
    delay: Micros,
}

/// What a link did, for the page and the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStats {
    /// The client that uses it (a service, `(cdc) billing`, `connector orders-connector`).
    pub client: String,
    /// One end (the client's endpoint name).
    pub from: String,
    /// The other end (a database or the broker).
    pub to: String,
    /// Its round-trip time.
    pub rtt: Micros,
    /// Its mean jitter per round trip.
    pub jitter: Micros,
    /// How many times something crossed it, either way.
    pub crossings: u64,
    /// The time those crossings took in all.
    pub delay: Micros,
}

/// The run's network: its clients' links, each set up on first use with its own random stream.
#[derive(Debug, Clone)]
pub struct Network {
    spec: NetworkSpec,
    seed: u64,
    links: Vec<Link>,
}

impl Network {
    /// The network of a run seeded with `seed`.
    pub fn new(spec: &NetworkSpec, seed: u64) -> Self {
        Self {
            spec: spec.clone(),
            seed,
            links: Vec::new(),
        }
    }

    /// The link `client` uses between `from` and `to`: with the scenario's override for the
    /// pair (whichever way round) if there is one, else the default; its random stream is the
    /// client's own (`client` names it uniquely: a service, `(cdc) billing`, …).
    pub fn link(&mut self, client: &str, from: &str, to: &str) -> LinkId {
        if let Some(id) = self
            .links
            .iter()
            .position(|l| l.client == client && l.to == to)
        {
            return id;
        }
        let spec = self.spec.links.iter().find(|l| l.joins(from, to));
        let rtt = spec.and_then(|l| l.rtt).unwrap_or(self.spec.rtt).micros();
        let jitter = spec
            .and_then(|l| l.jitter)
            .unwrap_or(self.spec.jitter)
            .micros();
        self.links.push(Link {
            client: client.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            rtt,
            jitter,
            rng: SimRng::new(self.seed, stream_of(client, to == BROKER)),
            crossings: 0,
            delay: 0,
        });
        self.links.len() - 1
    }

    /// One crossing of `link`, either way: half its RTT plus a jitter drawn from its stream
    /// (exponential, with a mean of half the link's `jitter`).
    pub fn one_way(&mut self, link: LinkId) -> Micros {
        debug_assert!(link < self.links.len(), "link {link} was never set up");
        let Some(link) = self.links.get_mut(link) else {
            return 0;
        };
        let mut delay = link.rtt / 2;
        if link.jitter > 0 {
            // `libm` gives the same bits everywhere.
            let u = link.rng.unit();
            let extra = -libm::log(1.0 - u) * link.jitter as f64 / 2.0;
            delay = delay.saturating_add(extra.round().min(1e12) as Micros);
        }
        link.crossings += 1;
        link.delay = link.delay.saturating_add(delay);
        delay
    }

    /// The round-trip time of `link` (0 for an unknown link).
    pub fn rtt(&self, link: LinkId) -> Micros {
        self.links.get(link).map_or(0, |l| l.rtt)
    }

    /// What each link did so far, in the order the run first used them.
    pub fn stats(&self) -> Vec<LinkStats> {
        self.links
            .iter()
            .map(|l| LinkStats {
                client: l.client.clone(),
                from: l.from.clone(),
                to: l.to.clone(),
                rtt: l.rtt,
                jitter: l.jitter,
                crossings: l.crossings,
                delay: l.delay,
            })
            .collect()
    }

    /// The network's settings.
    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }
}

/// The random stream of `client`'s link to its database, or to the broker: in
/// [`crate::sim::rng::streams::LINKS`], the same in every mode (whatever the database's name).
fn stream_of(client: &str, to_broker: bool) -> u64 {
    let mut hasher = FnvHasher::default();
    hasher.write(client.as_bytes());
    hasher.write(&[u8::from(to_broker)]);
    crate::sim::rng::streams::LINKS | (hasher.finish() & 0x00FF_FFFF_FFFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rtt: Micros, jitter: Micros) -> NetworkSpec {
        NetworkSpec {
            rtt: SimDuration(rtt),
            jitter: SimDuration(jitter),
            links: Vec::new(),
        }
    }

    #[test]
    fn without_jitter_a_crossing_is_exactly_half_the_rtt() {
        let mut network = Network::new(&spec(800, 0), 1);
        let link = network.link("billing", "billing", "shop");
        assert_eq!(network.one_way(link) + network.one_way(link), 800);
        let stats = &network.stats()[0];
        assert_eq!((stats.crossings, stats.delay), (2, 800));
        assert_eq!(network.rtt(link), 800);
    }

    #[test]
    fn jitter_averages_its_mean_and_has_a_long_tail() {
        let mut network = Network::new(&spec(1_000, 200), 7);
        let link = network.link("billing", "billing", "shop");
        let trips: Vec<Micros> = (0..20_000)
            .map(|_| network.one_way(link) + network.one_way(link))
            .collect();
        assert!(trips.iter().all(|&d| d >= 1_000));
        let mean = trips.iter().sum::<Micros>() as f64 / trips.len() as f64;
        assert!((1_180.0..1_220.0).contains(&mean), "round-trip mean {mean}");
        // A long right tail: the sum of two exponential halves exceeds twice its mean about 9
        // times in 100 (5·e⁻⁴), where a uniform jitter never would.
        let far = trips.iter().filter(|&&d| d > 1_000 + 2 * 200).count();
        assert!(far > 1_000 && far < 3_000, "{far} beyond twice the jitter");
    }

    #[test]
    fn a_link_override_applies_whichever_way_round() {
        let mut network = Network::new(
            &NetworkSpec {
                links: vec![LinkSpec {
                    from: "shop".into(),
                    to: "billing".into(),
                    rtt: Some(SimDuration(20_000)),
                    jitter: Some(SimDuration(0)),
                }],
                ..spec(300, 0)
            },
            1,
        );
        let far = network.link("billing", "billing", "shop");
        let near = network.link("shipping", "shipping", "shop");
        assert_eq!(network.link("billing", "billing", "shop"), far);
        assert_eq!(network.one_way(far), 10_000);
        assert_eq!(network.one_way(near), 150);
        // billing's consumer group runs in billing: its own client, the same settings.
        let consumer = network.link("(cdc) billing", "billing", "shop");
        assert_ne!(consumer, far);
        assert_eq!(network.rtt(consumer), 20_000);
    }

    #[test]
    fn the_same_seed_draws_the_same_delays_and_clients_do_not_disturb_each_other() {
        let draws = |extra: bool, database: &str| {
            let mut network = Network::new(&spec(300, 100), 42);
            if extra {
                let other = network.link("shipping", "shipping", "shop");
                for _ in 0..10 {
                    network.one_way(other);
                }
            }
            let link = network.link("billing", "billing", database);
            (0..50).map(|_| network.one_way(link)).collect::<Vec<_>>()
        };
        assert_eq!(draws(false, "shop"), draws(false, "shop"));
        assert_eq!(draws(false, "shop"), draws(true, "shop"));
        // A service draws the same delays whatever its database is called (cdc names it after
        // the service).
        assert_eq!(draws(false, "shop"), draws(false, "billing"));
        let mut other_seed = Network::new(&spec(300, 100), 43);
        let link = other_seed.link("billing", "billing", "shop");
        let other: Vec<_> = (0..50).map(|_| other_seed.one_way(link)).collect();
        assert_ne!(draws(false, "shop"), other);
    }

    #[test]
    fn the_default_is_one_availability_zone_and_zero_is_nothing() {
        let default = NetworkSpec::default();
        assert_eq!((default.rtt.micros(), default.jitter.micros()), (300, 100));
        let mut none = Network::new(&spec(0, 0), 1);
        let link = none.link("billing", "billing", "shop");
        assert_eq!(none.one_way(link), 0);
    }

    #[test]
    fn a_link_must_join_a_client_and_a_database_or_the_broker_once() {
        let link = |from: &str, to: &str| LinkSpec {
            from: from.into(),
            to: to.into(),
            rtt: Some(SimDuration(1_000)),
            jitter: None,
        };
        let check = |links: Vec<LinkSpec>| {
            NetworkSpec {
                links,
                ..NetworkSpec::default()
            }
            .check(&["orders", "billing"], &["shop"])
            .map_err(|e| e.to_string())
        };
        assert!(check(vec![
            link("orders-connector", BROKER),
            link("shop", "billing"),
            link("etl", "shop"),
            link("billing", BROKER),
        ])
        .is_ok());
        let unknown = check(vec![link("payments", "shop")]).unwrap_err();
        assert!(unknown.contains("network.links[0].from"), "{unknown}");
        let nowhere = check(vec![link("billing", "warehouse")]).unwrap_err();
        assert!(nowhere.contains("network.links[0].to"), "{nowhere}");
        assert!(nowhere.contains("shop"), "names the databases: {nowhere}");
        let twice = check(vec![link("billing", "shop"), link("shop", "billing")]).unwrap_err();
        assert!(twice.contains("network.links[1]"), "{twice}");
        let slow = NetworkSpec {
            rtt: SimDuration(61_000_000),
            ..NetworkSpec::default()
        };
        assert!(slow.check(&[], &["shop"]).is_err());
    }

    #[test]
    fn streams_stay_clear_of_the_worlds_other_streams() {
        use crate::sim::rng::streams;
        let stream = stream_of("billing", false);
        assert_ne!(stream, stream_of("billing", true));
        assert_ne!(stream, stream_of("billing_2", false));
        // Above every operation's stream (service << 40 | operation << 20 | slot, services
        // far fewer than 2^16) and below the constants of the other parts.
        assert!(stream >= streams::LINKS && stream > (u64::from(u16::MAX) << 40));
        assert!(stream < streams::PUBLISHERS - streams::PUBLISHERS_MAX);
        assert!(stream < streams::FAULTS);
    }
}
