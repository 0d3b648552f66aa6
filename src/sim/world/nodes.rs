//! The database nodes a scenario's mode builds, and which node each service uses: the
//! scenario's databases as they are (`shared`, `owned`), or a database per service made from
//! them (`cdc`: its own tables and its read models, see [`crate::sim::modes`]), or the
//! scenario's databases and an analytics database copied from the operational one (`etl`).

use crate::sim::database::Database;
use crate::sim::modes::{
    parse_projections, plan_cdc, plan_etl, EtlPlan, Mode, OperationTables, Plan,
};
use crate::sim::node::DatabaseNode;
use crate::sim::params::tables_used;
use crate::sim::projection::{answering, ProjectionQuery, ProjectionStore};
use crate::sim::scenario::{Scenario, ScenarioError};
use crate::sim::sink::SinkColumn;
use std::collections::BTreeMap;

/// The nodes of a world and the services' places on them.
pub(super) struct Nodes {
    /// The database nodes.
    pub nodes: Vec<DatabaseNode>,
    /// Per scenario service, its node.
    pub service_node: Vec<usize>,
    /// Per scenario service, the tables it may write (`owned` mode only).
    pub may_write: Vec<Option<Vec<String>>>,
    /// The `cdc` mode's plan (connectors, consumers).
    pub plan: Option<Plan>,
    /// The `etl` mode's plan and the analytics database's node.
    pub etl: Option<(EtlPlan, usize)>,
    /// The `cdc` mode's projections, per database of the plan: name → state store (its table
    /// created and filled).
    pub projections: Vec<BTreeMap<String, ProjectionStore>>,
    /// The `events` mode's contracts: each aggregate's events.
    pub contracts: Vec<crate::sim::events::EventContract>,
}

/// What each service's operations read and write, from their templates, leaving out the
/// statements that one of the service's `projections` answers (they read the projection).
pub(super) fn operation_tables(
    scenario: &Scenario,
    projections: &[Vec<(String, ProjectionQuery)>],
) -> Vec<Vec<OperationTables>> {
    scenario
        .services
        .iter()
        .enumerate()
        .map(|(s, service)| {
            let answered = |sql: &String| {
                projections
                    .get(s)
                    .is_some_and(|p| answering(p, sql).is_some())
            };
            service
                .operations
                .iter()
                .map(|op| {
                    let statements: Vec<String> = op
                        .statements
                        .iter()
                        .filter(|sql| !answered(sql))
                        .cloned()
                        .collect();
                    let (reads, writes) = tables_used(&statements);
                    OperationTables {
                        name: op.name.clone(),
                        reads,
                        writes,
                    }
                })
                .collect()
        })
        .collect()
}

/// Builds the nodes of `scenario`'s mode around `databases` (the scenario's, seeded and set up).
pub(super) fn build_nodes(
    scenario: &Scenario,
    databases: Vec<Database>,
) -> Result<Nodes, ScenarioError> {
    let node = |spec: &crate::sim::scenario::DatabaseSpec, name: String, db: Database| {
        let mut node = DatabaseNode::new(name, db, spec.cores, spec.max_connections, spec.cost);
        node.isolation = spec.isolation;
        node
    };
    let declares_owners = scenario.services.iter().any(|s| !s.owns.is_empty());
    match scenario.mode {
        Mode::Shared | Mode::Owned | Mode::Etl => {
            if scenario.mode == Mode::Owned && !declares_owners {
                return Err(ScenarioError::at(
                    "mode",
                    "is \"owned\", but no service says which tables it owns: add owns = [...] \
                     to the services",
                ));
            }
            let nodes: Vec<DatabaseNode> = scenario
                .databases
                .iter()
                .zip(databases)
                .map(|(spec, db)| node(spec, spec.name.clone(), db))
                .collect();
            let mut nodes = nodes;
            let mut service_node = Vec::new();
            for (s, spec) in scenario.services.iter().enumerate() {
                let index = nodes
                    .iter()
                    .position(|n| n.name == spec.database)
                    .ok_or_else(|| {
                        ScenarioError::at(format!("services[{s}].database"), "is not a database")
                    })?;
                service_node.push(index);
            }
            let may_write = scenario
                .services
                .iter()
                .map(|s| (scenario.mode == Mode::Owned).then(|| s.owns.clone()))
                .collect();
            let etl = if scenario.mode == Mode::Etl {
                let plan = plan_etl(scenario, &operation_tables(scenario, &[]))?;
                let index = analytics_node(scenario, &plan, &mut nodes)?;
                for &s in &plan.services {
                    service_node[s] = index;
                }
                Some((plan, index))
            } else {
                None
            };
            Ok(Nodes {
                nodes,
                service_node,
                may_write,
                plan: None,
                etl,
                projections: Vec::new(),
                contracts: Vec::new(),
            })
        }
        Mode::Cdc | Mode::Events => {
            if !declares_owners {
                return Err(ScenarioError::at(
                    "mode",
                    format!(
                        "is \"{}\", but no service says which tables it owns: add owns = [...] \
                         to the services",
                        scenario.mode.name()
                    ),
                ));
            }
            if scenario.script.is_some() {
                return Err(ScenarioError::at(
                    "script",
                    "scripted sessions run on one shared database: use mode \"shared\" or \"owned\"",
                ));
            }
            let projections = parse_projections(scenario)?;
            let plan = plan_cdc(
                scenario,
                &operation_tables(scenario, &projections),
                &projections,
            )?;
            let contracts = if scenario.mode == Mode::Events {
                if scenario.events.is_empty() {
                    return Err(ScenarioError::at(
                        "mode",
                        "is \"events\", but the scenario declares no events: add an \
                         [events.<aggregate>] with the table it describes",
                    ));
                }
                crate::sim::events::contracts(
                    &scenario.events,
                    |table| {
                        databases.iter().find_map(|db| {
                            db.with_engine_ref(|e| {
                                let columns = e.column_defs(table);
                                (!columns.is_empty())
                                    .then(|| (columns, e.primary_key_columns(table)))
                            })
                        })
                    },
                    |table| {
                        scenario
                            .services
                            .iter()
                            .any(|s| s.owns.iter().any(|t| t == table))
                    },
                )?
            } else {
                Vec::new()
            };
            let plan = if scenario.mode == Mode::Events {
                crate::sim::modes::plan_events(scenario, plan, &contracts)?
            } else {
                plan
            };
            let mut nodes = Vec::new();
            let mut stores = Vec::new();
            for planned in &plan.databases {
                let (Some(source), Some(spec)) = (
                    databases.get(planned.from),
                    scenario.databases.get(planned.from),
                ) else {
                    return Err(ScenarioError::at("databases", "has no database to copy"));
                };
                let mut db = source.copy();
                let tables = db.with_engine_ref(|e| e.table_names());
                for table in tables.iter().filter(|t| !planned.tables.contains(t)) {
                    db.execute(&format!("DROP TABLE {table}")).map_err(|e| {
                        ScenarioError::at(
                            format!("services[{}]", nodes.len()),
                            format!("could not make its database: {e}"),
                        )
                    })?;
                }
                let outbox = crate::sim::outbox::OUTBOX_TABLE;
                if planned.tables.iter().any(|t| t == outbox) && !tables.iter().any(|t| t == outbox)
                {
                    db.execute(scenario.cdc.relay_method().create_outbox())
                        .map_err(|e| {
                            ScenarioError::at(
                                format!("services[{}]", nodes.len()),
                                format!("could not create its outbox: {e}"),
                            )
                        })?;
                }
                keep_columns(&mut db, nodes.len(), planned)?;
                stores.push(make_projections(&mut db, source, nodes.len(), planned)?);
                nodes.push(node(spec, planned.name.clone(), db));
            }
            // A read model is applied by key: its table needs a primary key.
            for (s, planned) in plan.databases.iter().enumerate() {
                for table in &planned.read_models {
                    let keyed = nodes[s]
                        .db
                        .with_engine_ref(|e| !e.primary_key_columns(table).is_empty());
                    if !keyed {
                        return Err(ScenarioError::at(
                            format!("services[{s}]"),
                            format!(
                                "{} reads table \"{table}\", which has no primary key: a read \
                                 model is kept up to date by key, so CDC needs one",
                                planned.name
                            ),
                        ));
                    }
                }
            }
            Ok(Nodes {
                nodes,
                service_node: (0..scenario.services.len()).collect(),
                may_write: vec![None; scenario.services.len()],
                plan: Some(plan),
                etl: None,
                projections: stores,
                contracts,
            })
        }
    }
}

/// Adds the `etl` mode's analytics database: the copied tables of the operational database,
/// as they are when the run starts (the job's first load ran before), on a node of its own.
fn analytics_node(
    scenario: &Scenario,
    plan: &EtlPlan,
    nodes: &mut Vec<DatabaseNode>,
) -> Result<usize, ScenarioError> {
    let (Some(source), Some(spec)) = (nodes.get(plan.source), scenario.databases.get(plan.source))
    else {
        return Err(ScenarioError::at("databases", "has no database to copy"));
    };
    // A table copied incrementally needs the column it is copied by.
    for (table, column) in &scenario.etl.incremental {
        let columns = source.db.with_engine_ref(|e| e.column_defs(table));
        if !columns.iter().any(|c| &c.name == column) {
            return Err(ScenarioError::at(
                format!("etl.incremental.{table}"),
                format!("is \"{column}\", which is not a column of {table}"),
            ));
        }
    }
    let mut db = source.db.copy();
    let tables = db.with_engine_ref(|e| e.table_names());
    for table in tables.iter().filter(|t| !plan.tables.contains(t)) {
        db.execute(&format!("DROP TABLE {table}")).map_err(|e| {
            ScenarioError::at("etl", format!("could not make the analytics database: {e}"))
        })?;
    }
    let mut node = DatabaseNode::new(
        scenario.etl.database.clone(),
        db,
        scenario.etl.cores.max(1),
        spec.max_connections,
        spec.cost,
    );
    node.isolation = spec.isolation;
    nodes.push(node);
    Ok(nodes.len() - 1)
}

/// Creates service `s`'s projections in its database `db`, each filled from its source table
/// in `source` (the scenario's database, as the run starts), and returns their state stores.
fn make_projections(
    db: &mut Database,
    source: &Database,
    s: usize,
    planned: &crate::sim::modes::PlannedDatabase,
) -> Result<BTreeMap<String, ProjectionStore>, ScenarioError> {
    let mut stores = BTreeMap::new();
    for (name, query) in &planned.projections {
        let at = || format!("services[{s}].projections.{name}");
        let (columns, keys) = source.with_engine_ref(|e| {
            let columns: Vec<SinkColumn> = e
                .column_defs(&query.source)
                .into_iter()
                .map(|c| SinkColumn {
                    name: c.name,
                    data_type: c.data_type,
                })
                .collect();
            (columns, e.primary_key_columns(&query.source))
        });
        if keys.is_empty() {
            return Err(ScenarioError::at(
                at(),
                format!(
                    "reads \"{}\", which has no primary key: a projection keeps each row's \
                     contribution by key",
                    query.source
                ),
            ));
        }
        let mut store = ProjectionStore::new(name, query.clone(), &columns)
            .map_err(|e| ScenarioError::at(at(), e.to_string()))?;
        let (names, rows) = source
            .committed_rows(&query.source)
            .map_err(|e| ScenarioError::at(at(), format!("could not read its source: {e}")))?;
        let mut contributions = BTreeMap::new();
        for values in &rows {
            let (key, row) = crate::sim::debezium::row_json(&names, values, &keys);
            let contribution = store
                .contribution(&row)
                .map_err(|e| ScenarioError::at(at(), e.to_string()))?;
            if let Some(key) = key {
                contributions.insert(std::rc::Rc::from(key.as_str()), Some(contribution));
            }
        }
        let update = store.update(contributions);
        let statements = std::iter::once(store.create_sql())
            .chain(update.statements.iter().cloned())
            .collect::<Vec<_>>();
        store.commit(update);
        let statements = statements
            .into_iter()
            .chain(store.initial_statements())
            .collect::<Vec<_>>();
        for sql in statements {
            db.execute(&sql).map_err(|e| {
                ScenarioError::at(at(), format!("could not make its table: {e} ({sql})"))
            })?;
        }
        stores.insert(name.clone(), store);
    }
    Ok(stores)
}

/// Drops from service `s`'s database the columns its declared read models do not keep, after
/// checking that each kept column exists and the primary key is kept.
fn keep_columns(
    db: &mut Database,
    s: usize,
    planned: &crate::sim::modes::PlannedDatabase,
) -> Result<(), ScenarioError> {
    for (table, keep) in &planned.columns {
        let at = || format!("services[{s}].read_models.{table}");
        let (columns, key) = db.with_engine_ref(|e| {
            let columns: Vec<String> = e.column_defs(table).into_iter().map(|c| c.name).collect();
            (columns, e.primary_key_columns(table))
        });
        if let Some(unknown) = keep.iter().find(|c| !columns.contains(c)) {
            return Err(ScenarioError::at(
                at(),
                format!("keeps \"{unknown}\", which is not a column of {table}"),
            ));
        }
        if let Some(missing) = key.iter().find(|k| !keep.contains(k)) {
            return Err(ScenarioError::at(
                at(),
                format!(
                    "leaves out \"{missing}\", a primary key column of {table}: a read model \
                     is kept up to date by key"
                ),
            ));
        }
        for column in columns.iter().filter(|c| !keep.contains(c)) {
            db.execute(&format!("ALTER TABLE {table} DROP COLUMN {column}"))
                .map_err(|e| ScenarioError::at(at(), format!("could not drop {column}: {e}")))?;
        }
    }
    Ok(())
}
