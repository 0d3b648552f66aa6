//! "Try it in PostgreSQL": a scripted scenario written out as `psql` files, so that a student can
//! replay the lesson in real terminals against a real server and see what the simulator showed.
//!
//! One file sets the database up (`00-setup.sql`), one file per session holds that session's
//! statements in order, and a `README.md` says in which order to type them — one terminal per
//! session — with what the simulator saw at each step (ok, waits and for whom, the error code),
//! so the student can compare line by line. The simulator's levels map onto PostgreSQL's
//! (`SET default_transaction_isolation`); the locking levels have no PostgreSQL equivalent, and
//! the README says so.

use crate::sim::isolation::Isolation;
use crate::sim::scenario::Scenario;
use crate::sim::script::ScriptReport;
use crate::sim::world::World;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use thiserror::Error;

/// Why a scenario cannot be exported.
#[derive(Debug, Error, PartialEq)]
pub enum ExportError {
    /// Only a `[script]` says which statement each session runs when.
    #[error("{0} has no [script]: only scripted scenarios can be replayed in psql")]
    NoScript(String),
    /// The script names a database the scenario does not declare.
    #[error("the script's database \"{0}\" is not declared in [[databases]]")]
    NoDatabase(String),
    /// The scenario could not be built.
    #[error("{0}")]
    Build(String),
}

/// One file to write: its name and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportFile {
    /// The file name (no directory).
    pub name: String,
    /// Its contents.
    pub text: String,
}

/// PostgreSQL's name of a level, for `SET default_transaction_isolation` (`None` for the
/// locking levels, which PostgreSQL does not have).
fn postgresql_level(isolation: Isolation) -> Option<&'static str> {
    match isolation {
        Isolation::ReadCommitted => Some("read committed"),
        Isolation::RepeatableRead => Some("repeatable read"),
        Isolation::Serializable => Some("serializable"),
        Isolation::LockingReadCommitted | Isolation::TwoPhaseLocking => None,
    }
}

/// A file name for a session: its name, kept to letters, digits, `-` and `_`.
fn file_name(index: usize, session: &str) -> String {
    let clean: String = session
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{:02}-{clean}.sql", index + 1)
}

/// The files that replay `scenario`'s script in psql. `label` names the scenario in the texts.
///
/// # Errors
///
/// [`ExportError`] when the scenario has no script, or cannot be built to record what the
/// simulator does.
pub fn export(scenario: &Scenario, label: &str) -> Result<Vec<ExportFile>, ExportError> {
    let script = scenario
        .script
        .as_ref()
        .ok_or_else(|| ExportError::NoScript(label.to_owned()))?;
    let database = scenario
        .databases
        .iter()
        .find(|d| d.name == script.database)
        .ok_or_else(|| ExportError::NoDatabase(script.database.clone()))?;
    let mut world = World::new(scenario).map_err(|e| ExportError::Build(e.to_string()))?;
    world.step_until(1);
    let report = world.script_report().unwrap_or_default();

    let level = postgresql_level(database.isolation);
    let mut sessions: Vec<&str> = Vec::new();
    for step in &script.steps {
        if !sessions.contains(&step.session.as_str()) {
            sessions.push(&step.session);
        }
    }
    let files: BTreeMap<&str, String> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, file_name(i, s)))
        .collect();

    let mut out = Vec::new();
    let mut setup = format!(
        "-- {label}: the database the sessions share. Run it once:\n--   psql -f 00-setup.sql\n\n"
    );
    for table in tables_created(&database.setup) {
        let _ = writeln!(setup, "DROP TABLE IF EXISTS {table} CASCADE;");
    }
    for sql in &database.setup {
        let _ = writeln!(setup, "{};", sql.trim().trim_end_matches(';'));
    }
    out.push(ExportFile {
        name: "00-setup.sql".to_owned(),
        text: setup,
    });

    for session in &sessions {
        let mut text = format!(
            "-- {label}: session {session}. Open a terminal for it (psql), then type each\n\
             -- statement when README.md says so: the steps of the sessions interleave.\n\
             \\set VERBOSITY verbose\n"
        );
        if let Some(level) = level {
            let _ = writeln!(text, "SET default_transaction_isolation = '{level}';");
        }
        for (index, step) in script.steps.iter().enumerate() {
            if step.session == *session {
                let _ = writeln!(
                    text,
                    "\n-- step {}\n{};",
                    index + 1,
                    step.sql.trim().trim_end_matches(';')
                );
            }
        }
        out.push(ExportFile {
            name: files[session].clone(),
            text,
        });
    }
    out.push(ExportFile {
        name: "README.md".to_owned(),
        text: readme(
            scenario,
            label,
            database.isolation,
            &sessions,
            &files,
            &report,
        ),
    });
    Ok(out)
}

/// The tables a setup creates, in order (to drop them first, so the setup can run again).
fn tables_created(setup: &[String]) -> Vec<String> {
    setup
        .iter()
        .filter_map(|sql| {
            let words: Vec<&str> = sql.split_whitespace().collect();
            match words.as_slice() {
                [create, table, name, ..]
                    if create.eq_ignore_ascii_case("create")
                        && table.eq_ignore_ascii_case("table") =>
                {
                    Some(name.split('(').next().unwrap_or(name).to_owned())
                }
                _ => None,
            }
        })
        .filter(|name| !name.is_empty())
        .collect()
}

fn readme(
    scenario: &Scenario,
    label: &str,
    isolation: Isolation,
    sessions: &[&str],
    files: &BTreeMap<&str, String>,
    report: &ScriptReport,
) -> String {
    let mut text = format!(
        "# {} — in PostgreSQL\n\n",
        scenario.title.as_deref().unwrap_or(label)
    );
    let _ = writeln!(
        text,
        "Replays the scripted sessions of `{label}` against a real PostgreSQL server, one terminal \
         per session.\n"
    );
    match postgresql_level(isolation) {
        Some(level) => {
            let _ = writeln!(
                text,
                "The simulator ran this at `{}`; each session file sets PostgreSQL's `{level}` \
                 first.\n",
                isolation.name()
            );
        }
        None => {
            let _ = writeln!(
                text,
                "The simulator ran this at `{}` ({}), a locking level that PostgreSQL does not \
                 have: PostgreSQL runs the files at its default, READ COMMITTED, where readers \
                 never wait — so expect fewer waits than the simulator showed.\n",
                isolation.name(),
                isolation.label()
            );
        }
    }
    if scenario
        .databases
        .iter()
        .any(|d| d.name == report_database(scenario) && d.shop.is_some())
    {
        let _ = writeln!(
            text,
            "Note: the scenario's generated shop tables are not exported; only its `setup` SQL \
             is.\n"
        );
    }
    let _ = writeln!(
        text,
        "1. Set up the tables once: `psql -f 00-setup.sql` (it drops and recreates them).\n\
         2. Open {} terminals, one per session, each running `psql`, and run the first lines of \
         its file (`\\set VERBOSITY verbose` shows each error's SQLSTATE code):\n",
        sessions.len()
    );
    for session in sessions {
        let _ = writeln!(text, "   - **{session}**: `{}`", files[session]);
    }
    let _ = writeln!(
        text,
        "\n3. Type the steps in this order. A step that waits leaves its terminal busy: go on \
         in the others, as the simulator did; it finishes when the step named in the last \
         column frees it.\n\n\
         | step | session | statement | the simulator saw |\n|---|---|---|---|"
    );
    for step in &report.steps {
        let saw = match (step.outcome.as_str(), &step.sqlstate) {
            ("ok", _) => "ok".to_owned(),
            (_, Some(code)) => format!("ERROR {code}: {}", step.message),
            _ => format!("error: {}", step.message),
        };
        let waited = match (step.blocked, step.completed_after) {
            (true, Some(after)) => format!("waits; goes on after step {}; ", after + 1),
            (true, None) => "waits; ".to_owned(),
            _ => String::new(),
        };
        let rows = step
            .rows
            .as_ref()
            .map(|rows| {
                let shown: Vec<String> = rows
                    .iter()
                    .map(|r| {
                        let cells: Vec<String> = r.iter().map(|v| v.to_string()).collect();
                        format!("({})", cells.join(", "))
                    })
                    .collect();
                format!(" → {}", shown.join(" "))
            })
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "| {} | {} | `{}` | {waited}{saw}{rows} |",
            step.index + 1,
            step.session,
            step.sql.replace('|', "\\|"),
        );
    }
    let _ = writeln!(
        text,
        "\nWhen the steps run out, the simulator rolls back any session still inside a \
         transaction (as a client that disconnects): type `ROLLBACK;` there."
    );
    text
}

fn report_database(scenario: &Scenario) -> String {
    scenario
        .script
        .as_ref()
        .map(|s| s.database.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost_update() -> Scenario {
        let text = crate::sim::builtin::scenario_text("lost-update").expect("built in");
        Scenario::parse(text).expect("valid")
    }

    #[test]
    fn a_script_becomes_a_setup_a_file_per_session_and_the_order() {
        let files = export(&lost_update(), "lost-update").expect("exports");
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "00-setup.sql",
                "01-alice.sql",
                "02-bob.sql",
                "03-auditor.sql",
                "README.md"
            ]
        );
        let setup = &files[0].text;
        assert!(
            setup.contains("DROP TABLE IF EXISTS accounts CASCADE;"),
            "{setup}"
        );
        assert!(setup.contains("CREATE TABLE accounts"), "{setup}");
        let bob = &files[2].text;
        assert!(bob.contains("SET default_transaction_isolation = 'read committed';"));
        let update = bob
            .find("UPDATE accounts SET balance = 120")
            .expect("bob's update");
        let commit = bob.find("-- step 8\nCOMMIT;").expect("bob's commit");
        assert!(update < commit, "{bob}");
        assert!(
            !bob.contains("150"),
            "alice's statements stay in alice's file"
        );
        let readme = &files[4].text;
        assert!(readme.contains("| 6 | bob | `UPDATE accounts SET balance = 120 WHERE id = 1` | waits; goes on after step 7; ok |"), "{readme}");
        assert!(readme.contains("→ (1, 120) (2, 500)"), "{readme}");
    }

    #[test]
    fn locking_levels_are_said_to_have_no_postgresql_equivalent() {
        let mut scenario = lost_update();
        scenario.databases[0].isolation = Isolation::TwoPhaseLocking;
        let files = export(&scenario, "lost-update").expect("exports");
        assert!(!files[1].text.contains("default_transaction_isolation"));
        let readme = &files.last().expect("readme").text;
        assert!(readme.contains("PostgreSQL does not have"), "{readme}");
        assert!(
            readme.contains("ERROR 40P01"),
            "the deadlock's code: {readme}"
        );
    }

    #[test]
    fn a_scenario_without_a_script_is_refused() {
        let text = crate::sim::builtin::scenario_text("shop").expect("built in");
        let scenario = Scenario::parse(text).expect("valid");
        assert_eq!(
            export(&scenario, "shop"),
            Err(ExportError::NoScript("shop".to_owned()))
        );
    }
}
