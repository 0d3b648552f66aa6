//! Coming back from a crash of the engine with nothing the user did lost.
//!
//! GlueSQL can panic on some statements, and a panic in WebAssembly cannot be caught: the
//! instance is dead. But a run is its scenario, seed and the user's commands at their times
//! ([`crate::sim::playback`]), so the simulator keeps that record in the tab's storage as it goes
//! ([`save_run`]). When the engine panics, the panic hook adds which statement was running
//! ([`save_crash`]) and reloads; the new page ([`take_crash`]) rebuilds the run at the same time
//! with every command but the one whose SQL panicked, and says which statement it was. A crash
//! while restoring is not restored again (the page would loop): it shows the banner instead.

use crate::sim::playback::RecordedCommand;
use crate::sim::world::Command;
use crate::ui::browser;
use serde::{Deserialize, Serialize};

const RUN_KEY: &str = "dataflow-lab.sim.run";
const CRASH_KEY: &str = "dataflow-lab.sim.crash";
const RESTORING_KEY: &str = "dataflow-lab.sim.restoring";

/// The tab's storage key for `base`: embeds share their host tab's storage, so each keeps its
/// record under its own name (`id=`, else its scenario), apart from the page's and each other's.
fn key(base: &str) -> String {
    if !browser::embedded() {
        return base.to_owned();
    }
    let name = browser::query_param("id")
        .or_else(browser::scenario_param)
        .unwrap_or_default();
    format!("{base}.embed.{name}")
}

pub use crate::authoring::SavedRun;

/// A run that stopped because the engine panicked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Crash {
    /// The run as it was last saved.
    pub run: SavedRun,
    /// The statement GlueSQL was executing, if known.
    pub statement: Option<String>,
    /// What the engine said.
    pub message: String,
}

/// Keeps the run's record for this tab (called whenever it changes).
pub fn save_run(run: &SavedRun) {
    if let Ok(json) = serde_json::to_string(run) {
        browser::session_set(&key(RUN_KEY), &json);
    }
}

/// From the panic hook: records the crash with the last saved run. Returns whether the page
/// should reload to restore it (not when the crash happened while restoring, nor without a
/// saved run).
pub fn save_crash(statement: Option<&str>, message: &str) -> bool {
    if browser::session_get(&key(RESTORING_KEY)).is_some() {
        return false;
    }
    let Some(run) = browser::session_get(&key(RUN_KEY))
        .and_then(|json| serde_json::from_str::<SavedRun>(&json).ok())
    else {
        return false;
    };
    let crash = Crash {
        run,
        statement: statement.map(str::to_owned),
        message: message.to_owned(),
    };
    match serde_json::to_string(&crash) {
        Ok(json) => {
            browser::session_set(&key(CRASH_KEY), &json);
            true
        }
        Err(_) => false,
    }
}

/// At start-up: the crash to restore, once. While it is being restored, a marker says so (see
/// [`restored`]).
pub fn take_crash() -> Option<Crash> {
    let json = browser::session_get(&key(CRASH_KEY))?;
    browser::session_remove(&key(CRASH_KEY));
    let crash = serde_json::from_str::<Crash>(&json).ok()?;
    browser::session_set(&key(RESTORING_KEY), "1");
    Some(crash)
}

/// Whether the last restore itself crashed (the marker is still there); clears it.
pub fn restore_failed() -> bool {
    let failed = browser::session_get(&key(RESTORING_KEY)).is_some();
    browser::session_remove(&key(RESTORING_KEY));
    failed
}

/// The restore is done: a later crash may be restored again.
pub fn restored() {
    browser::session_remove(&key(RESTORING_KEY));
}

/// The commands to replay after a crash: all but those whose SQL holds the statement that
/// panicked (compared without case, spacing or the final `;`).
pub fn without_culprit(
    commands: Vec<RecordedCommand>,
    statement: Option<&str>,
) -> (Vec<RecordedCommand>, usize) {
    let Some(culprit) = statement.map(normalise).filter(|s| !s.is_empty()) else {
        return (commands, 0);
    };
    let before = commands.len();
    let kept: Vec<RecordedCommand> = commands
        .into_iter()
        .filter(|c| match &c.command {
            Command::Console { sql, .. } | Command::RunSql { sql, .. } => {
                !normalise(sql).contains(&culprit)
            }
            _ => true,
        })
        .collect();
    let dropped = before - kept.len();
    (kept, dropped)
}

fn normalise(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(';')
        .trim()
        .to_lowercase()
}
