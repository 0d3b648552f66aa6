//! The simulation core: pure Rust, no web crates, deterministic.
//!
//! Everything here compiles and is tested natively; the page (`crate::ui`) and the command line
//! only read what it produces and send it commands.

pub mod acquire;
pub mod avro_compat;
pub mod avro_wire;
pub mod builtin;
pub mod capture;
pub mod change_log;
pub mod clock;
pub mod compare;
pub mod connector;
pub mod console;
pub mod consumer_group;
pub mod cost;
pub mod database;
pub mod debezium;
pub mod idempotent;
pub mod isolation;
pub mod key_access;
pub mod lock_plan;
pub mod locks;
pub mod messages;
pub mod metrics;
pub mod modes;
pub mod node;
pub mod outbox;
pub mod owners;
pub mod params;
pub mod partitioner;
pub mod playback;
pub mod projection;
pub mod psql_export;
pub mod queue;
pub mod registry;
pub mod report;
pub mod results;
pub mod rng;
pub mod scenario;
pub mod script;
pub mod service;
pub mod shop;
pub mod sink;
pub mod sql_guard;
pub mod sql_script;
pub mod sqlstate;
pub mod ssi;
pub mod statement;
pub mod storage;
pub mod topic;
pub mod versions;
pub mod view;
pub mod world;
