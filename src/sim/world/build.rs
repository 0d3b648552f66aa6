//! Building a world from a scenario: databases seeded and set up, services with their pools,
//! parameters and random streams, the internal clients, and the checks that a template's
//! tables exist.

use super::{EtlJob, Event, Pipeline, TimelineEvent, World};
use crate::sim::capture::{CaptureMethod, AUDIT_DDL};
use crate::sim::database::{Connection, Database};
use crate::sim::lock_plan::Isolation;
use crate::sim::metrics::OperationMetrics;
use crate::sim::network::{Network, CONSOLE, ETL, TIMELINE};
use crate::sim::node::DatabaseNode;
use crate::sim::owners::{Actor, OwnerRegistry};
use crate::sim::params::{tables_used, KeyRange, Param};
use crate::sim::projection::answering;
use crate::sim::queue::EventQueue;
use crate::sim::rng::SimRng;
use crate::sim::scenario::{Scenario, ScenarioError};
use crate::sim::service::{Operation, Service};
use crate::sim::shop::{self, ShopSize};
use crate::sim::statement::Command as SqlCommand;
use crate::sim::storage::ReadMode;
use fnv::FnvHasher;
use gluesql::core::data::Key;
use gluesql::core::store::Store;
use std::collections::BTreeMap;
use std::hash::Hasher;

impl World {
    /// Builds the world of `scenario` with the scenario's own seed.
    ///
    /// # Errors
    ///
    /// A [`ScenarioError`] when the setup SQL fails, a template uses a table that does not
    /// exist, or the pools ask for more connections than a database accepts.
    pub fn new(scenario: &Scenario) -> Result<Self, ScenarioError> {
        Self::with_seed(scenario, scenario.seed)
    }

    /// Builds the world of `scenario` with another seed.
    ///
    /// # Errors
    ///
    /// As [`World::new`].
    pub fn with_seed(scenario: &Scenario, seed: u64) -> Result<Self, ScenarioError> {
        let databases = Self::build_databases(scenario, seed)?;
        Self::with_databases(scenario, seed, databases)
    }

    /// The scenario's databases with their seeded data and setup SQL run: the expensive part
    /// of building a world, which [`crate::sim::playback::Playback`] keeps a copy of so that
    /// going back in time does not redo it.
    ///
    /// # Errors
    ///
    /// As [`World::new`].
    pub fn build_databases(scenario: &Scenario, seed: u64) -> Result<Vec<Database>, ScenarioError> {
        scenario.check()?;
        crate::sim::expectation_rules::check_queries(scenario)?;
        let error = |path: String, message: String| ScenarioError::at(path, message);
        let mut databases = Vec::new();
        for (i, spec) in scenario.databases.iter().enumerate() {
            if !spec.cost.is_valid() {
                return Err(error(
                    format!("databases[{i}].cost"),
                    "must hold non-negative numbers".into(),
                ));
            }
            let mut db = Database::new(spec.name.clone());
            if let Some(size) = spec.shop {
                let size = ShopSize {
                    customers: size.customers,
                    orders: size.orders,
                    jobs: size.jobs,
                };
                shop::seed_shop(&mut db, seed, size)
                    .map_err(|e| error(format!("databases[{i}].shop"), e.to_string()))?;
            }
            for (k, sql) in spec.setup.iter().enumerate() {
                for result in db.run_script(sql, || 0.0) {
                    if let Err(e) = result.result {
                        return Err(error(
                            format!("databases[{i}].setup[{k}]"),
                            format!("failed: {e}"),
                        ));
                    }
                }
            }
            databases.push(db);
        }
        Ok(databases)
    }

    /// Builds the world of `scenario` with `seed` around `databases`, as
    /// [`World::build_databases`] made them (or copies of them).
    ///
    /// # Errors
    ///
    /// As [`World::new`].
    pub fn with_databases(
        scenario: &Scenario,
        seed: u64,
        databases: Vec<Database>,
    ) -> Result<Self, ScenarioError> {
        let error = |path: String, message: String| ScenarioError::at(path, message);
        let super::nodes::Nodes {
            mut nodes,
            service_node,
            may_write,
            plan,
            etl,
            projections,
            contracts,
        } = super::nodes::build_nodes(scenario, databases)?;

        let mut keys = BTreeMap::new();
        let mut services = Vec::new();
        let mut network = Network::new(&scenario.network, seed);
        // What the timeline creates, which a version not yet deployed may use.
        let created_later = tables_created_later(scenario);
        for (s, spec) in scenario.services.iter().enumerate() {
            let node_index = service_node[s];
            let node = &mut nodes[node_index];
            if node.connections + spec.pool_size > node.max_connections {
                return Err(error(
                    format!("services[{s}].pool_size"),
                    format!(
                        "is {}, but {} accepts {} connections and {} are taken",
                        spec.pool_size, node.name, node.max_connections, node.connections
                    ),
                ));
            }
            node.connections += spec.pool_size;
            let isolation = spec.isolation.unwrap_or(node.isolation);
            let pool = (0..spec.pool_size)
                .map(|_| {
                    let mut connection = client(&node.db, isolation);
                    connection.set_lock_timeout(spec.lock_timeout.map(|t| t.micros()));
                    connection.set_statement_timeout(spec.statement_timeout.map(|t| t.micros()));
                    connection
                })
                .collect::<Vec<_>>();
            let mut operations = Vec::new();
            for (o, op) in spec.operations.iter().enumerate() {
                let at = format!("services[{s}].operations[{o}]");
                let params: Vec<(String, Param)> = op
                    .params
                    .iter()
                    .enumerate()
                    .map(|(p, (name, param))| {
                        (
                            name.clone(),
                            Param::new(param.clone(), SimRng::new(seed, stream_of(s, o, p + 1))),
                        )
                    })
                    .collect();
                for (name, param) in &params {
                    if let Some(column) = param.key_column() {
                        let range = key_range(&mut node.db, column)
                            .map_err(|m| error(format!("{at}.params.{name}"), m))?;
                        keys.entry(column.to_owned()).or_insert(range);
                    }
                }
                let subsets: Vec<&String> = plan
                    .as_ref()
                    .and_then(|p| p.databases.get(s))
                    .map(|d| d.columns.keys().collect())
                    .unwrap_or_default();
                // In cdc, a statement that is one of the service's projections reads it.
                let statements: Vec<String> = op
                    .statements
                    .iter()
                    .map(|sql| {
                        plan.as_ref()
                            .and_then(|p| p.databases.get(s))
                            .and_then(|d| answering(&d.projections, sql))
                            .map_or_else(|| sql.clone(), |(name, q)| q.read_sql(name))
                    })
                    .collect();
                // A version not yet deployed may use a table the timeline creates first.
                let later: &[String] = if op.enabled { &[] } else { &created_later };
                check_tables(&mut node.db, &statements, &at, &subsets, later)?;
                let (reads, writes) = tables_used(&statements);
                operations.push(Operation {
                    name: op.name.clone(),
                    rate_per_s: op.rate_per_s,
                    enabled: op.enabled,
                    think_time: op.think_time.micros(),
                    statements,
                    params,
                    arrivals: SimRng::new(seed, stream_of(s, o, 0)),
                    generation: 0,
                    metrics: OperationMetrics::default(),
                    reads,
                    writes,
                    last_error: None,
                    last_success: None,
                    broken_tables: Vec::new(),
                });
            }
            services.push(Service {
                link: network.link(&spec.name, &spec.name, &node.name),
                name: spec.name.clone(),
                node: node_index,
                free: (0..pool.len()).collect(),
                pool,
                waiting: Default::default(),
                paused: false,
                timeout: spec.timeout.micros(),
                retries: spec.retries,
                retry_backoff: spec.retry_backoff.micros(),
                operations,
                may_write: may_write[s].clone(),
                outbox: {
                    let own: Vec<_> = contracts
                        .iter()
                        .filter(|c| spec.owns.contains(&c.table))
                        .cloned()
                        .collect();
                    (!own.is_empty()).then(|| {
                        let mut writer = crate::sim::outbox_writer::OutboxWriter::new(own, 1);
                        writer.relay = scenario.cdc.relay_method();
                        writer
                    })
                },
            });
        }

        // Two more clients per database: one runs timeline SQL (each command a transaction),
        // the other the console (a session whose transactions span commands).
        let mut owners = OwnerRegistry::default();
        let mut timeline_services = Vec::new();
        let mut console_services = Vec::new();
        for (index, node) in nodes.iter_mut().enumerate() {
            node.connections += 2;
            timeline_services.push(services.len());
            services.push(internal_client(
                format!("(timeline) {}", node.name),
                (&mut network, TIMELINE),
                index,
                node,
                SimRng::new(seed, u64::MAX),
            ));
            let owner = owners.allocate(Actor::Console {
                node: index,
                running: None,
            });
            console_services.push((services.len(), owner));
            services.push(internal_client(
                format!("(console) {}", node.name),
                (&mut network, CONSOLE),
                index,
                node,
                SimRng::new(seed, u64::MAX - 1),
            ));
        }
        // In the cdc mode, one more client per consumer group: it applies events to the read
        // models of its service's database.
        let mut consumer_services = Vec::new();
        if let Some(plan) = &plan {
            for consumer in &plan.consumers {
                let node = &mut nodes[consumer.database];
                node.connections += 1;
                consumer_services.push(services.len());
                // Named after what it reads: raw changes (cdc) or domain events.
                let reads = match scenario.mode {
                    crate::sim::modes::Mode::Events => "events",
                    _ => "cdc",
                };
                let mut client = internal_client(
                    format!("({reads}) {}", consumer.group),
                    (&mut network, &consumer.group),
                    consumer.database,
                    node,
                    SimRng::new(seed, u64::MAX - 2),
                );
                client.operations[0].name = "apply".to_owned();
                services.push(client);
            }
        }
        // In the etl mode, one client runs the job's extract on the source and one its load on
        // the analytics database.
        let etl = etl.map(|(plan, target)| {
            let mut clients = [0; 2];
            for (slot, (node_index, name)) in [(plan.source, "extract"), (target, "load")]
                .into_iter()
                .enumerate()
            {
                let node = &mut nodes[node_index];
                node.connections += 1;
                clients[slot] = services.len();
                let mut client = internal_client(
                    format!("(etl) {name}"),
                    (&mut network, ETL),
                    node_index,
                    node,
                    SimRng::new(seed, u64::MAX - 3),
                );
                client.operations[0].name = name.to_owned();
                services.push(client);
            }
            EtlJob::new(
                &scenario.etl,
                (plan.source, target),
                &plan.tables,
                &nodes[plan.source].db,
                (clients[0], clients[1]),
            )
        });
        let node_specs: Vec<String> = match &plan {
            Some(plan) => plan
                .databases
                .iter()
                .map(|d| scenario.databases[d.from].name.clone())
                .collect(),
            None => nodes
                .iter()
                .enumerate()
                .map(|(i, n)| match &etl {
                    Some(job) if job.target == i => nodes[job.source].name.clone(),
                    _ => n.name.clone(),
                })
                .collect(),
        };
        let node_tables = plan
            .as_ref()
            .map(|plan| {
                plan.databases
                    .iter()
                    .map(|d| {
                        let owns = d
                            .tables
                            .iter()
                            .filter(|t| !d.read_models.contains(t))
                            .cloned()
                            .collect();
                        let fed = d
                            .read_models
                            .iter()
                            .chain(d.projections.iter().map(|(name, _)| name))
                            .cloned()
                            .collect();
                        (owns, fed)
                    })
                    .collect()
            })
            .unwrap_or_default();
        // With query or trigger capture, one more client per connector, on its source: it runs
        // the connector's polls (and the trigger's audit table is created there). So does the
        // events mode's polling relay: the owner's database runs its polls and marks.
        let polls = match scenario.mode {
            crate::sim::modes::Mode::Cdc if scenario.cdc.capture.polls_by_query() => Some("cdc"),
            crate::sim::modes::Mode::Events
                if scenario.cdc.relay_method() == crate::sim::outbox::RelayMethod::Polling =>
            {
                Some("relay")
            }
            _ => None,
        };
        let mut connector_services = Vec::new();
        if let (Some(plan), Some(kind)) = (plan.as_ref(), polls) {
            for connector in &plan.connectors {
                let node = &mut nodes[connector.source];
                if scenario.mode == crate::sim::modes::Mode::Cdc {
                    check_capture(scenario, connector, &node.db)?;
                }
                if scenario.mode == crate::sim::modes::Mode::Cdc
                    && scenario.cdc.capture == CaptureMethod::Trigger
                {
                    node.db.execute(AUDIT_DDL).map_err(|e| {
                        error(
                            "cdc.capture".into(),
                            format!("could not create the audit table: {e}"),
                        )
                    })?;
                }
                node.connections += 1;
                connector_services.push(services.len());
                let mut client = internal_client(
                    format!("({kind}) {}", connector.name),
                    (&mut network, &connector.name),
                    connector.source,
                    node,
                    SimRng::new(seed, u64::MAX - 4),
                );
                client.operations[0].name = "poll".to_owned();
                services.push(client);
            }
        }
        // The events mode's relay reads the outbox from the log (Debezium's outbox router).
        let cdc = match scenario.mode {
            crate::sim::modes::Mode::Events => crate::sim::modes::CdcSpec {
                capture: CaptureMethod::Log,
                ..scenario.cdc.clone()
            },
            _ => scenario.cdc.clone(),
        };
        let pipeline = plan.as_ref().map(|plan| {
            Pipeline::new(
                plan,
                &cdc,
                &nodes,
                super::pipeline::PipelineClients {
                    consumers: &consumer_services,
                    connectors: &connector_services,
                },
                projections,
                &contracts,
                seed,
            )
        });
        let mut world = Self {
            scenario: scenario.clone(),
            seed,
            now: 0,
            queue: EventQueue::default(),
            nodes,
            services,
            in_flight: BTreeMap::new(),
            next_op: 1,
            owners,
            keys,
            trace: FnvHasher::default().finish(),
            events: 0,
            applied: Vec::new(),
            recorded: None,
            script: None,
            timeline_services,
            console_services,
            console: Default::default(),
            next_console_entry: 1,
            locking: true,
            script_manual: false,
            lock_events: Default::default(),
            blocked_by: BTreeMap::new(),
            narration: Default::default(),
            pipeline,
            etl,
            network,
            node_tables,
            node_specs,
            phase_windows: Vec::new(),
        };
        world.phase_windows = super::expectations::phase_windows(scenario, &world.services);
        world.start_pipeline();
        world.start_etl();
        if let Some(spec) = &scenario.script {
            let index = world
                .nodes
                .iter()
                .position(|n| n.name == spec.database)
                .ok_or_else(|| error("script.database".into(), "is not a database".into()))?;
            let node = &world.nodes[index];
            let runner = crate::sim::script::ScriptRunner::new(
                spec,
                node.isolation,
                |mode| node.db.connect(mode),
                &mut world.owners,
            );
            world.script = Some((index, runner));
        }
        for (index, entry) in scenario.timeline.iter().enumerate() {
            world.queue.schedule(
                entry.at.micros(),
                Event::Timeline(TimelineEvent::Action { index }),
            );
        }
        for s in 0..world.services.len() {
            for o in 0..world.services[s].operations.len() {
                world.schedule_arrival(s, o);
            }
        }
        Ok(world)
    }
}

/// Query-based capture needs, for every table the connector captures, a column that exists.
fn check_capture(
    scenario: &Scenario,
    connector: &crate::sim::modes::PlannedConnector,
    db: &Database,
) -> Result<(), ScenarioError> {
    if scenario.cdc.capture != CaptureMethod::Query {
        return Ok(());
    }
    for table in &connector.tables {
        let Some(column) = scenario.cdc.query_columns.get(table) else {
            return Err(ScenarioError::at(
                "cdc.query_columns",
                format!(
                    "has no column for table \"{table}\": query capture polls each table by a \
                     column every write sets to a growing value, e.g. {table} = \"updated_at\""
                ),
            ));
        };
        let columns = db.with_engine_ref(|e| e.column_defs(table));
        if !columns.iter().any(|c| &c.name == column) {
            return Err(ScenarioError::at(
                format!("cdc.query_columns.{table}"),
                format!("is \"{column}\", which is not a column of {table}"),
            ));
        }
    }
    Ok(())
}

fn stream_of(service: usize, operation: usize, slot: usize) -> u64 {
    ((service as u64) << 40) | ((operation as u64) << 20) | slot as u64
}

/// A client of the simulation's own (timeline SQL, the console): one connection, no arrivals,
/// an hour's timeout.
/// Its link is its own (its name is the client's), with the settings of `endpoint`'s (`etl`,
/// a consumer group's service, a connector) link to the node.
fn internal_client(
    name: String,
    (network, endpoint): (&mut Network, &str),
    index: usize,
    node: &DatabaseNode,
    arrivals: SimRng,
) -> Service {
    Service {
        link: network.link(&name, endpoint, &node.name),
        name,
        node: index,
        pool: vec![client(&node.db, node.isolation)],
        free: [0].into(),
        waiting: Default::default(),
        paused: false,
        timeout: 3_600 * crate::sim::clock::SECOND,
        retries: 0,
        retry_backoff: 0,
        operations: vec![Operation {
            name: "sql".to_owned(),
            rate_per_s: 0.0,
            enabled: false,
            think_time: 0,
            statements: Vec::new(),
            params: Vec::new(),
            arrivals,
            generation: 0,
            metrics: OperationMetrics::default(),
            reads: Vec::new(),
            writes: Vec::new(),
            last_error: None,
            last_success: None,
            broken_tables: Vec::new(),
        }],
        may_write: None,
        outbox: None,
    }
}

/// A connection to `db` whose transactions run at `isolation`.
fn client(db: &Database, isolation: Isolation) -> Connection {
    let mut connection = db.connect(isolation.read_mode());
    connection.set_isolation(isolation);
    connection
}

/// The smallest and largest value of `table.column` now.
fn key_range(db: &mut Database, column: &str) -> Result<KeyRange, String> {
    let (table, column) = column.split_once('.').unwrap_or((column, ""));
    // A primary key's range is read from the ends of the table's key order, not by a scan.
    let bounds = db.with_engine_ref(|engine| {
        engine
            .is_primary_key(table, column)
            .then(|| engine.key_bounds(table))
    });
    match bounds {
        Some(Some((Key::I64(min), Key::I64(max)))) => return Ok(KeyRange { min, max }),
        Some(None) => return Ok(KeyRange { min: 1, max: 0 }),
        _ => {}
    }
    let sql = format!("SELECT MIN({column}), MAX({column}) FROM {table}");
    let result = db
        .execute(&sql)
        .map_err(|e| format!("names a column that cannot be read: {e}"))?;
    let crate::sim::database::Outcome::Rows { rows, .. } = result.outcome else {
        return Err("names a column that cannot be read".to_owned());
    };
    let number = |i: usize| {
        rows.first()
            .and_then(|r| r.get(i))
            .and_then(|c| c.text.parse::<i64>().ok())
    };
    Ok(match (number(0), number(1)) {
        (Some(min), Some(max)) => KeyRange { min, max },
        _ => KeyRange { min: 1, max: 0 },
    })
}

/// The tables and views the timeline's SQL creates (`CREATE TABLE`, `CREATE VIEW`, `ALTER
/// TABLE … RENAME TO`): names an operation deployed later may use. (Any database's: in the
/// cdc and events modes a service's tables move to a database of its own.)
fn tables_created_later(scenario: &Scenario) -> Vec<String> {
    use gluesql::core::ast::{AlterTableOperation, Statement};
    scenario
        .timeline
        .iter()
        .filter_map(|entry| entry.sql.as_deref())
        .flat_map(crate::sim::sql_script::split_statements)
        .filter_map(
            |statement| match Connection::prepare(&statement.sql).ok()? {
                SqlCommand::CreateView { name, .. } => Some(name),
                SqlCommand::Sql {
                    statement: Statement::CreateTable { name, .. },
                    ..
                } => Some(name),
                SqlCommand::Sql {
                    statement:
                        Statement::AlterTable {
                            operation: AlterTableOperation::RenameTable { table_name },
                            ..
                        },
                    ..
                } => Some(table_name),
                _ => None,
            },
        )
        .collect()
}

/// Checks that the tables `templates` name exist (but for those in `later`, which the timeline
/// creates before the operation runs): the tables a statement names in `FROM`, `JOIN` and as its
/// target, against the database's tables (from the parsed SQL: a 20,000-row report is not run
/// to find out). Checks that the tables `templates` name exist, and runs (then rolls back) those that write,
/// and those that read one of `subsets` (read models that keep some columns only), so that a
/// column they name and the table lacks is an error now rather than a failure at run time.
fn check_tables(
    db: &mut Database,
    templates: &[String],
    at: &str,
    subsets: &[&String],
    later: &[String],
) -> Result<(), ScenarioError> {
    let missing = |k: usize, table: &str| {
        ScenarioError::at(
            format!("{at}.statements[{k}]"),
            format!(
                "uses table \"{}\", which does not exist at start",
                table.trim()
            ),
        )
    };
    let mut probe = db.connect(ReadMode::LatestCommitted);
    for (k, template) in templates.iter().enumerate() {
        let kind = crate::sim::database::StatementKind::of(template);
        if kind.changes_schema() || kind.is_transaction_control() {
            continue;
        }
        let sample = crate::sim::params::sample_render(template);
        let mut reads_subset = false;
        if let Ok(SqlCommand::Sql { statement, .. }) = Connection::prepare(&sample) {
            let (reads, writes) = crate::sim::lock_plan::tables_of(&statement);
            // A table, or a view (the setup may have created one).
            let exists = |t: &String| {
                probe.session().fetch_schema(t).ok().flatten().is_some()
                    || db.with_engine_ref(|engine| {
                        engine.relation_kind(t) == Some(crate::sim::storage::RelationKind::View)
                    })
            };
            if let Some(table) = reads.iter().chain(&writes).find(|t| !exists(t)) {
                if later.contains(table) {
                    continue;
                }
                return Err(missing(k, table));
            }
            reads_subset = reads.iter().any(|t| subsets.contains(&t));
            if writes.is_empty() && !reads_subset {
                continue;
            }
        }
        let _ = probe.execute("BEGIN");
        let result = probe.execute(&sample);
        let _ = probe.execute("ROLLBACK");
        if let Err(e) = result {
            let message = e.to_string();
            if let Some(table) = message.split("table not found: ").nth(1) {
                return Err(missing(k, table));
            }
            if reads_subset
                && crate::sim::metrics::ErrorKind::of_sqlstate(e.sqlstate())
                    == crate::sim::metrics::ErrorKind::Schema
            {
                return Err(ScenarioError::at(
                    format!("{at}.statements[{k}]"),
                    format!(
                        "fails on this service's database: {message} (a read model keeps only \
                         the columns its read_models entry lists)"
                    ),
                ));
            }
        }
    }
    Ok(())
}
