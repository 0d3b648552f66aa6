//! The simulation core: pure Rust, no web crates, deterministic.
//!
//! Everything here compiles and is tested natively; the page (`crate::ui`) and the command line
//! only read what it produces and send it commands.

pub mod change_log;
pub mod console;
pub mod database;
pub mod key_access;
pub mod shop;
pub mod sql_script;
pub mod storage;
pub mod versions;
