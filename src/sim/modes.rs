//! Integration modes: how the services of a scenario share data, and what each mode builds.
//!
//! - `shared` — every service reads and writes one shared database (dataflow through a
//!   database).
//! - `owned` — still one database, but each table has one writer: a write to a table the
//!   service does not own fails as PostgreSQL's `permission denied for table orders` would.
//! - `cdc` — every service gets a database of its own (its own node) with the tables it owns;
//!   each table it reads but does not own is a read model there, fed from the owner's change
//!   events: a CDC connector on the owner's database, a topic per table, and a consumer group per
//!   reading service. The same SQL templates run unchanged.
//! - `etl` — the operational services share one database as in `shared`, but the reporting
//!   services (`role = "analytics"`) read an analytics database that a batch job refreshes
//!   every `interval` by copying tables from the operational one (extract, then load).
//!
//! - `events` — as `cdc`, but an owner publishes declared domain events (`[events.<aggregate>]`)
//!   through a transactional outbox, relayed by Debezium's outbox event router, instead of its
//!   raw table changes; readers keep their read models from the events (see
//!   [`crate::sim::events`]).
//!
//! The same seed gives the same arrivals and parameters in every mode: each service's random
//! streams depend on its place in the scenario, never on the mode.

use crate::sim::clock::SimDuration;
use crate::sim::debezium::ReplicaIdentity;
use crate::sim::projection::ProjectionQuery;
use crate::sim::scenario::{Scenario, ScenarioError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the services share data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One shared database, read and written by every service.
    #[default]
    Shared,
    /// One shared database, one writer per table.
    Owned,
    /// A database per service; change data capture feeds read models.
    Cdc,
    /// One shared operational database; analytics services read a copy a batch job refreshes.
    Etl,
    /// A database per service; owners publish domain events through a transactional outbox,
    /// and read models are kept from the events.
    Events,
}

impl Mode {
    /// Every mode, in the order a chooser lists them.
    pub const ALL: [Self; 5] = [
        Self::Shared,
        Self::Owned,
        Self::Etl,
        Self::Cdc,
        Self::Events,
    ];

    /// The mode's name in a scenario file and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Owned => "owned",
            Self::Cdc => "cdc",
            Self::Etl => "etl",
            Self::Events => "events",
        }
    }

    /// The mode a name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// What the mode builds, in a sentence for a tooltip.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Shared => "Every service reads and writes one shared database.",
            Self::Owned => {
                "One shared database, but each table has one writer: writing another service's \
                 table is refused (permission denied)."
            }
            Self::Cdc => {
                "Each service has a database of its own; a CDC connector streams the owner's \
                 changes through topics into read models in the readers' databases."
            }
            Self::Etl => {
                "One shared operational database; the analytics services read an analytics \
                 database that a batch job (ETL) refreshes by copying tables at its interval."
            }
            Self::Events => {
                "Each service has a database of its own; owners write domain events into an \
                 outbox in the same transaction as their change, a relay publishes them (Avro, \
                 with a schema registry), and readers keep read models from the events."
            }
        }
    }
}

/// The CDC pipeline's settings (`[cdc]` in a scenario); every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CdcSpec {
    /// Partitions per topic.
    #[schemars(range(min = 1, max = 64))]
    pub partitions: u32,
    /// Time from a produce to the message being readable.
    pub broker_latency: SimDuration,
    /// Whether the topics are compacted (`cleanup.policy=compact`, as Debezium recommends for
    /// change topics): the latest event per key stays, enough to rebuild a read model.
    pub compact: bool,
    /// How often the broker's log cleaner runs (retention and compaction).
    pub cleaner_interval: SimDuration,
    /// The connector's `poll.interval.ms`.
    pub poll_interval: SimDuration,
    /// The connector's `max.batch.size`.
    pub batch_size: usize,
    /// Kafka Connect's `offset.flush.interval.ms`.
    pub offset_flush_interval: SimDuration,
    /// The connector's work per event.
    pub event_cost: SimDuration,
    /// How often a consumer polls when it found nothing.
    pub consumer_poll_interval: SimDuration,
    /// A consumer's `max.poll.records`.
    pub max_poll_records: usize,
    /// How long a consumer group's rebalance pauses consumption.
    pub rebalance_time: SimDuration,
    /// `REPLICA IDENTITY` per table (`DEFAULT` unless listed).
    pub replica_identity: BTreeMap<String, ReplicaIdentity>,
    /// What to watch in the `cdc` mode, in one sentence (Markdown): the page shows it instead
    /// of the scenario's `watch` when the run is in `cdc`.
    pub watch: Option<String>,
    /// How the connectors capture changes: `log` (the write-ahead log, the default), `query`
    /// (polling by `query_columns`) or `trigger` (an audit table written by every write).
    pub capture: crate::sim::capture::CaptureMethod,
    /// For `query` capture: per captured table, the column every write sets to a growing
    /// value (`orders = "updated_at"`).
    pub query_columns: BTreeMap<String, String>,
    /// For `query` and `trigger` capture: how often the connector polls the source.
    pub query_poll_interval: SimDuration,
    /// For `dual_write` capture: a service's publish happens up to this long after its commit
    /// (each publish is a call of its own to the broker).
    pub publish_jitter: SimDuration,
    /// The `events` mode's relay: `log` (Debezium's outbox router on the log, the default) or
    /// `polling` (a query for the unpublished rows every `query_poll_interval`). A scenario that
    /// names it gets the other relay as a column of the compare view.
    pub relay: Option<crate::sim::outbox::RelayMethod>,
}

impl CdcSpec {
    /// The `events` mode's relay (`log` unless the scenario names one).
    pub fn relay_method(&self) -> crate::sim::outbox::RelayMethod {
        self.relay.unwrap_or_default()
    }
}

impl Default for CdcSpec {
    fn default() -> Self {
        Self {
            partitions: 3,
            broker_latency: SimDuration(2_000),
            compact: true,
            cleaner_interval: SimDuration(15_000_000),
            poll_interval: SimDuration(100_000),
            batch_size: 2_048,
            offset_flush_interval: SimDuration(10_000_000),
            event_cost: SimDuration(20),
            consumer_poll_interval: SimDuration(100_000),
            max_poll_records: 500,
            rebalance_time: SimDuration(3_000_000),
            replica_identity: BTreeMap::new(),
            watch: None,
            capture: crate::sim::capture::CaptureMethod::Log,
            query_columns: BTreeMap::new(),
            query_poll_interval: SimDuration(1_000_000),
            publish_jitter: SimDuration(20_000),
            relay: None,
        }
    }
}

/// The `etl` mode's batch job (`[etl]` in a scenario); every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EtlSpec {
    /// How often the job starts a copy (a run still going makes the next one wait).
    pub interval: SimDuration,
    /// The analytics database's name.
    pub database: String,
    /// The analytics database's cores.
    #[schemars(range(min = 1))]
    pub cores: u32,
    /// Tables copied incrementally, by a column whose values only grow (`orders = "id"`): a
    /// run copies the rows above the highest value copied so far — and so misses updates to
    /// rows it copied before. The other tables are copied whole every run.
    pub incremental: BTreeMap<String, String>,
    /// Rows per `INSERT` when loading.
    #[schemars(range(min = 1))]
    pub chunk_rows: usize,
    /// What to watch in the `etl` mode, in one sentence (Markdown).
    pub watch: Option<String>,
}

impl Default for EtlSpec {
    fn default() -> Self {
        Self {
            interval: SimDuration(15_000_000),
            database: "analytics".to_owned(),
            cores: 1,
            incremental: BTreeMap::new(),
            chunk_rows: 250,
            watch: None,
        }
    }
}

/// What a service is for: `operational` services run the business; `analytics` services read
/// to report, and in the `etl` mode read the analytics database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the business: reads and writes the operational database.
    #[default]
    Operational,
    /// Reads for reports and dashboards.
    Analytics,
}

/// What an `etl` scenario builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtlPlan {
    /// The operational database the job copies from (an index into the scenario's databases).
    pub source: usize,
    /// The tables copied, in the order the analytics services first read them.
    pub tables: Vec<String>,
    /// The analytics services (indexes into the scenario's services).
    pub services: Vec<usize>,
}

/// Plans the `etl` mode of `scenario`: `tables[s]` lists what service `s`'s operations read
/// and write.
///
/// # Errors
///
/// A [`ScenarioError`] when no service has `role = "analytics"`, when an analytics service
/// writes (naming the service, the operation and the table), when the analytics services use
/// different databases, when the analytics database's name is taken, or when a table named in
/// `[etl] incremental` is not copied.
pub fn plan_etl(
    scenario: &Scenario,
    tables: &[Vec<OperationTables>],
) -> Result<EtlPlan, ScenarioError> {
    let services: Vec<usize> = scenario
        .services
        .iter()
        .enumerate()
        .filter(|(_, s)| s.role == Role::Analytics)
        .map(|(i, _)| i)
        .collect();
    let Some(&first) = services.first() else {
        return Err(ScenarioError::at(
            "mode",
            "is \"etl\", but no service has role = \"analytics\": mark the reporting services",
        ));
    };
    if scenario
        .databases
        .iter()
        .any(|d| d.name == scenario.etl.database)
    {
        return Err(ScenarioError::at(
            "etl.database",
            format!(
                "is \"{}\", the name of a database the scenario already has: choose another",
                scenario.etl.database
            ),
        ));
    }
    let database = &scenario.services[first].database;
    let mut copied: Vec<String> = Vec::new();
    for &s in &services {
        let service = &scenario.services[s];
        if &service.database != database {
            return Err(ScenarioError::at(
                format!("services[{s}].database"),
                format!(
                    "is \"{}\", but the analytics service {} reads \"{database}\": in etl mode \
                     the analytics services read one operational database",
                    service.database, scenario.services[first].name
                ),
            ));
        }
        for (o, operation) in tables
            .get(s)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .enumerate()
        {
            if let Some(table) = operation.writes.first() {
                return Err(ScenarioError::at(
                    format!("services[{s}].operations[{o}]"),
                    format!(
                        "{}.{} writes table \"{table}\": in etl mode an analytics service \
                         reads the analytics database and writes nothing",
                        service.name, operation.name
                    ),
                ));
            }
            for table in &operation.reads {
                if !copied.contains(table) {
                    copied.push(table.clone());
                }
            }
        }
    }
    if let Some(table) = scenario
        .etl
        .incremental
        .keys()
        .find(|t| !copied.contains(t))
    {
        return Err(ScenarioError::at(
            format!("etl.incremental.{table}"),
            "names a table no analytics service reads: the job does not copy it",
        ));
    }
    let source = scenario
        .databases
        .iter()
        .position(|d| &d.name == database)
        .ok_or_else(|| {
            ScenarioError::at(format!("services[{first}].database"), "is not a database")
        })?;
    Ok(EtlPlan {
        source,
        tables: copied,
        services,
    })
}

/// The tables one operation reads and writes (from its parsed templates).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OperationTables {
    /// The operation's name.
    pub name: String,
    /// Tables it reads.
    pub reads: Vec<String>,
    /// Tables it writes.
    pub writes: Vec<String>,
}

/// A database of the `cdc` mode: a service's own, made from the shared database it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDatabase {
    /// Its name: the service's.
    pub name: String,
    /// The scenario database it is made from (its index).
    pub from: usize,
    /// The tables it keeps: those the service owns, then its read models.
    pub tables: Vec<String>,
    /// The tables that are read models (fed by CDC), a subset of `tables`.
    pub read_models: Vec<String>,
    /// The read models declared with a subset of their source's columns: table → columns.
    pub columns: BTreeMap<String, Vec<String>>,
    /// Its projections (read models defined by SQL): name and query.
    pub projections: Vec<(String, ProjectionQuery)>,
}

/// A connector of the `cdc` mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedConnector {
    /// Its name (`orders-connector`), also its replication slot's.
    pub name: String,
    /// The topics' prefix: the shared database's name.
    pub prefix: String,
    /// Its source database (an index into the plan's databases).
    pub source: usize,
    /// The tables it captures.
    pub tables: Vec<String>,
}

/// A consumer group of the `cdc` mode, applying events to one service's read models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedConsumer {
    /// The group's id: the reading service's name.
    pub group: String,
    /// The database whose read models it feeds (an index into the plan's databases).
    pub database: usize,
    /// The read models: (table, topic).
    pub tables: Vec<(String, String)>,
    /// The read models that keep a subset of their source's columns.
    pub subsets: Vec<String>,
}

/// What a `cdc` scenario builds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// A database per service, in service order.
    pub databases: Vec<PlannedDatabase>,
    /// One connector per database whose tables others read.
    pub connectors: Vec<PlannedConnector>,
    /// One consumer group per service with read models.
    pub consumers: Vec<PlannedConsumer>,
}

/// Per service, its projections parsed: (name, query), in name order.
///
/// # Errors
///
/// A [`ScenarioError`] at `services[s].projections.<name>` when a query cannot be maintained
/// incrementally or the name is not a table name.
pub fn parse_projections(
    scenario: &Scenario,
) -> Result<Vec<Vec<(String, ProjectionQuery)>>, ScenarioError> {
    scenario
        .services
        .iter()
        .enumerate()
        .map(|(s, service)| {
            service
                .projections
                .iter()
                .map(|(name, sql)| {
                    let at = format!("services[{s}].projections.{name}");
                    if !crate::sim::projection::is_table_name(name) {
                        return Err(ScenarioError::at(
                            at,
                            "is not a table name: use letters, digits and _",
                        ));
                    }
                    ProjectionQuery::parse(sql)
                        .map(|query| (name.clone(), query))
                        .map_err(|e| ScenarioError::at(at, e.to_string()))
                })
                .collect()
        })
        .collect()
}

/// Plans the `cdc` mode of `scenario`: `tables[s]` lists what service `s`'s operations read and
/// write (leaving out the statements its projections answer), `projections[s]` its
/// projections.
///
/// # Errors
///
/// A [`ScenarioError`] when a service writes a table it does not own (naming the service, the
/// operation and the table), when a table is owned twice, when a table someone reads has no
/// owner, or when a projection reads a table no other service owns or takes a table's name.
pub fn plan_cdc(
    scenario: &Scenario,
    tables: &[Vec<OperationTables>],
    projections: &[Vec<(String, ProjectionQuery)>],
) -> Result<Plan, ScenarioError> {
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (s, service) in scenario.services.iter().enumerate() {
        for (k, table) in service.owns.iter().enumerate() {
            if let Some(first) = owner.insert(table.as_str(), s) {
                return Err(ScenarioError::at(
                    format!("services[{s}].owns[{k}]"),
                    format!(
                        "\"{table}\" is already owned by {}: a table has one owner",
                        scenario.services[first].name
                    ),
                ));
            }
        }
    }
    let mut plan = Plan::default();
    for (s, service) in scenario.services.iter().enumerate() {
        let operations = tables.get(s).map_or(&[][..], Vec::as_slice);
        for (o, operation) in operations.iter().enumerate() {
            if let Some(table) = operation.writes.iter().find(|t| !service.owns.contains(t)) {
                let owned_by = owner
                    .get(table.as_str())
                    .map(|i| format!(" (it belongs to {})", scenario.services[*i].name))
                    .unwrap_or_default();
                return Err(ScenarioError::at(
                    format!("services[{s}].operations[{o}]"),
                    format!(
                        "{}.{} writes table \"{table}\", which {} does not own{owned_by}: in cdc \
                         mode a service writes only its own tables",
                        service.name, operation.name, service.name
                    ),
                ));
            }
        }
        let mut read_models: Vec<String> = Vec::new();
        for operation in operations {
            for table in &operation.reads {
                if service.owns.contains(table) || read_models.contains(table) {
                    continue;
                }
                if !owner.contains_key(table.as_str()) {
                    return Err(ScenarioError::at(
                        format!("services[{s}]"),
                        format!(
                            "{} reads table \"{table}\", which no service owns: in cdc mode \
                             add it to the owns of the service that keeps it",
                            service.name
                        ),
                    ));
                }
                read_models.push(table.clone());
            }
        }
        let from = scenario
            .databases
            .iter()
            .position(|d| d.name == service.database)
            .unwrap_or(0);
        if let Some(table) = service
            .read_models
            .keys()
            .find(|t| !read_models.contains(t))
        {
            return Err(ScenarioError::at(
                format!("services[{s}].read_models.{table}"),
                format!(
                    "names \"{table}\", which {} does not read from another service: only a \
                     table it reads and does not own is a read model",
                    service.name
                ),
            ));
        }
        let mut kept = service.owns.clone();
        kept.extend(read_models.iter().cloned());
        let own_projections = projections.get(s).cloned().unwrap_or_default();
        for (name, query) in &own_projections {
            let at = format!("services[{s}].projections.{name}");
            if kept.contains(name) || scenario.services.iter().any(|o| o.owns.contains(name)) {
                return Err(ScenarioError::at(
                    at,
                    "is the name of a table: a projection needs a name of its own",
                ));
            }
            match owner.get(query.source.as_str()) {
                Some(&o) if o != s => {}
                Some(_) => {
                    return Err(ScenarioError::at(
                        at,
                        format!(
                            "reads \"{}\", which {} owns itself: a projection is kept from \
                             another service's changes (query your own table directly)",
                            query.source, service.name
                        ),
                    ))
                }
                None => {
                    return Err(ScenarioError::at(
                        at,
                        format!(
                            "reads \"{}\", which no service owns: add it to the owns of the \
                             service that keeps it",
                            query.source
                        ),
                    ))
                }
            }
        }
        plan.databases.push(PlannedDatabase {
            name: service.name.clone(),
            from,
            tables: kept,
            read_models,
            columns: service.read_models.clone(),
            projections: own_projections,
        });
    }
    for (s, service) in scenario.services.iter().enumerate() {
        let captured: Vec<String> = service
            .owns
            .iter()
            .filter(|t| {
                plan.databases.iter().any(|d| {
                    d.read_models.contains(t) || d.projections.iter().any(|(_, q)| &q.source == *t)
                })
            })
            .cloned()
            .collect();
        if captured.is_empty() {
            continue;
        }
        let prefix = scenario.databases[plan.databases[s].from].name.clone();
        plan.connectors.push(PlannedConnector {
            name: format!("{}-connector", service.name),
            prefix,
            source: s,
            tables: captured,
        });
    }
    for (s, database) in plan.databases.iter().enumerate() {
        if database.read_models.is_empty() && database.projections.is_empty() {
            continue;
        }
        // A read model's topic is named by its owner's connector: the owner's database's name.
        let topic = |table: &String| {
            let owner = owner.get(table.as_str()).copied().unwrap_or(s);
            let prefix = &scenario.databases[plan.databases[owner].from].name;
            crate::sim::debezium::topic_name(prefix, table)
        };
        plan.consumers.push(PlannedConsumer {
            group: scenario.services[s].name.clone(),
            database: s,
            tables: database
                .read_models
                .iter()
                .map(|t| (t.clone(), topic(t)))
                .chain(
                    database
                        .projections
                        .iter()
                        .map(|(name, query)| (name.clone(), topic(&query.source))),
                )
                .collect(),
            subsets: database.columns.keys().cloned().collect(),
        });
    }
    Ok(plan)
}

/// Turns a `cdc` plan of `scenario` into its `events` plan: a read model of a table that has
/// `contracts` is fed from the aggregate's event topic (unless its service lists the table in
/// `raw_changes`) and keeps the columns the events carry; each owner with contracts gets an
/// outbox table, and its connector captures the outbox (and the tables raw readers still need).
///
/// # Errors
///
/// A [`ScenarioError`] when a service lists in `raw_changes` a table it does not read from
/// another service, or declares a read model's columns that the events do not carry.
pub fn plan_events(
    scenario: &Scenario,
    mut plan: Plan,
    contracts: &[crate::sim::events::EventContract],
) -> Result<Plan, ScenarioError> {
    let contract_of = |table: &str| contracts.iter().find(|c| c.table == table);
    for (s, service) in scenario.services.iter().enumerate() {
        let Some(database) = plan.databases.get(s) else {
            continue;
        };
        if let Some((k, table)) = service.raw_changes.iter().enumerate().find(|(_, t)| {
            !database.read_models.contains(t)
                && !database.projections.iter().any(|(_, q)| &q.source == *t)
        }) {
            return Err(ScenarioError::at(
                format!("services[{s}].raw_changes[{k}]"),
                format!(
                    "is \"{table}\", which {} does not read from another service",
                    service.name
                ),
            ));
        }
    }
    // Who reads which table raw: the owners' connectors still capture those.
    let mut raw: Vec<String> = Vec::new();
    for consumer in &mut plan.consumers {
        let service = &scenario.services[consumer.database];
        let database = &plan.databases[consumer.database];
        for (name, topic) in &mut consumer.tables {
            let source = database
                .projections
                .iter()
                .find(|(p, _)| p == name)
                .map_or(name.as_str(), |(_, q)| q.source.as_str());
            match contract_of(source) {
                Some(contract) if !service.raw_changes.iter().any(|t| t == source) => {
                    *topic = contract.topic.clone();
                }
                _ => {
                    if !raw.iter().any(|t| t == source) {
                        raw.push(source.to_owned());
                    }
                }
            }
        }
    }
    for (s, database) in plan.databases.iter_mut().enumerate() {
        let service = &scenario.services[s];
        for table in &database.read_models {
            let Some(contract) = contract_of(table) else {
                continue;
            };
            if service.raw_changes.contains(table) {
                continue;
            }
            let carried = contract.columns();
            match database.columns.get(table) {
                Some(declared) => {
                    if let Some(missing) = declared.iter().find(|c| !carried.contains(c)) {
                        return Err(ScenarioError::at(
                            format!("services[{s}].read_models.{table}"),
                            format!(
                                "keeps \"{missing}\", which the {} events do not carry",
                                contract.aggregate
                            ),
                        ));
                    }
                }
                None => {
                    database.columns.insert(table.clone(), carried);
                }
            }
        }
        if contracts.iter().any(|c| service.owns.contains(&c.table))
            && !database
                .tables
                .iter()
                .any(|t| t == crate::sim::outbox::OUTBOX_TABLE)
        {
            database
                .tables
                .push(crate::sim::outbox::OUTBOX_TABLE.to_owned());
        }
    }
    for consumer in &mut plan.consumers {
        consumer.subsets = plan.databases[consumer.database]
            .columns
            .keys()
            .cloned()
            .collect();
    }
    let mut connectors = Vec::new();
    for (s, service) in scenario.services.iter().enumerate() {
        let mut tables: Vec<String> = service
            .owns
            .iter()
            .filter(|t| raw.contains(t))
            .cloned()
            .collect();
        if contracts.iter().any(|c| service.owns.contains(&c.table)) {
            tables.push(crate::sim::outbox::OUTBOX_TABLE.to_owned());
        }
        if tables.is_empty() {
            continue;
        }
        let prefix = scenario.databases[plan.databases[s].from].name.clone();
        connectors.push(PlannedConnector {
            name: format!("{}-connector", service.name),
            prefix,
            source: s,
            tables,
        });
    }
    plan.connectors = connectors;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        Scenario::parse(
            r#"
format_version = 1
name = "two"
mode = "cdc"
[[databases]]
name = "shop"
setup = ["CREATE TABLE orders (id INTEGER PRIMARY KEY)", "CREATE TABLE invoices (id INTEGER PRIMARY KEY, order_id INTEGER)"]
[[services]]
name = "orders"
database = "shop"
owns = ["orders"]
[[services]]
name = "billing"
database = "shop"
owns = ["invoices"]
"#,
        )
        .expect("valid")
    }

    fn ops(name: &str, reads: &[&str], writes: &[&str]) -> OperationTables {
        let list = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        OperationTables {
            name: name.to_owned(),
            reads: list(reads),
            writes: list(writes),
        }
    }

    #[test]
    fn a_projection_is_fed_by_its_sources_topic_and_checked() {
        let mut scenario = scenario();
        scenario.services[1].projections.insert(
            "by_status".into(),
            "SELECT status, COUNT(*) AS n FROM orders GROUP BY status".into(),
        );
        let tables = [vec![ops("place", &[], &["orders"])], vec![]];
        let projections = parse_projections(&scenario).expect("parses");
        let plan = plan_cdc(&scenario, &tables, &projections).expect("plans");
        assert_eq!(
            plan.databases[1].read_models,
            Vec::<String>::new(),
            "no copy"
        );
        assert_eq!(plan.databases[1].projections[0].0, "by_status");
        assert_eq!(
            plan.connectors[0].tables,
            ["orders"],
            "its source is captured"
        );
        assert_eq!(
            plan.consumers[0].tables,
            [("by_status".to_owned(), "shop.public.orders".to_owned())]
        );
        let refused = |service: usize, name: &str, sql: &str| {
            let mut scenario = scenario.clone();
            scenario.services[service].projections = [(name.to_owned(), sql.to_owned())].into();
            parse_projections(&scenario)
                .and_then(|p| plan_cdc(&scenario, &tables, &p))
                .expect_err("refused")
        };
        let error = refused(
            1,
            "orders",
            "SELECT status, COUNT(*) AS n FROM orders GROUP BY status",
        );
        assert!(error.message.contains("name of a table"), "{error}");
        let error = refused(
            0,
            "mine",
            "SELECT status, COUNT(*) AS n FROM orders GROUP BY status",
        );
        assert!(error.message.contains("owns itself"), "{error}");
        let error = refused(
            1,
            "stock",
            "SELECT sku, COUNT(*) AS n FROM stock GROUP BY sku",
        );
        assert!(error.message.contains("no service owns"), "{error}");
        let error = refused(
            1,
            "by-status",
            "SELECT status, COUNT(*) AS n FROM orders GROUP BY status",
        );
        assert_eq!(error.path, "services[1].projections.by-status");
        assert!(error.message.contains("not a table name"), "{error}");
    }

    #[test]
    fn a_reader_gets_a_read_model_fed_by_the_owners_connector() {
        let plan = plan_cdc(
            &scenario(),
            &[
                vec![ops("place", &[], &["orders"])],
                vec![ops("bill", &["orders", "invoices"], &["invoices"])],
            ],
            &[],
        )
        .expect("plans");
        assert_eq!(plan.databases[0].tables, ["orders"]);
        assert_eq!(plan.databases[1].tables, ["invoices", "orders"]);
        assert_eq!(plan.databases[1].read_models, ["orders"]);
        assert_eq!(plan.connectors.len(), 1);
        assert_eq!(plan.connectors[0].name, "orders-connector");
        assert_eq!(plan.connectors[0].tables, ["orders"]);
        assert_eq!(plan.consumers[0].group, "billing");
        assert_eq!(
            plan.consumers[0].tables,
            [("orders".to_owned(), "shop.public.orders".to_owned())]
        );
    }

    #[test]
    fn writing_a_table_one_does_not_own_is_an_error_naming_service_operation_and_table() {
        let error = plan_cdc(
            &scenario(),
            &[vec![], vec![ops("cancel", &[], &["orders"])]],
            &[],
        )
        .expect_err("refused");
        assert_eq!(error.path, "services[1].operations[0]");
        assert!(error
            .message
            .contains("billing.cancel writes table \"orders\""));
        assert!(error.message.contains("belongs to orders"));
    }

    #[test]
    fn a_table_read_but_owned_by_nobody_is_an_error() {
        let error = plan_cdc(
            &scenario(),
            &[vec![], vec![ops("look", &["stock"], &[])]],
            &[],
        )
        .expect_err("refused");
        assert!(error.message.contains("no service owns"), "{error}");
    }

    #[test]
    fn a_declared_read_model_must_be_a_table_the_service_reads_from_another() {
        let mut scenario = scenario();
        scenario.services[1]
            .read_models
            .insert("invoices".into(), vec!["id".into()]);
        let error = plan_cdc(
            &scenario,
            &[
                vec![],
                vec![ops("bill", &["orders", "invoices"], &["invoices"])],
            ],
            &[],
        )
        .expect_err("invoices is billing's own");
        assert_eq!(error.path, "services[1].read_models.invoices");
        scenario.services[1].read_models.clear();
        scenario.services[1]
            .read_models
            .insert("orders".into(), vec!["id".into()]);
        let plan = plan_cdc(
            &scenario,
            &[
                vec![],
                vec![ops("bill", &["orders", "invoices"], &["invoices"])],
            ],
            &[],
        )
        .expect("plans");
        assert_eq!(plan.consumers[0].subsets, ["orders"]);
        assert_eq!(plan.databases[1].columns["orders"], ["id"]);
    }

    #[test]
    fn mode_names_round_trip() {
        for mode in Mode::ALL {
            assert_eq!(Mode::from_name(mode.name()), Some(mode));
        }
    }
}
