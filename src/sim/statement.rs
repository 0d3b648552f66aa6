//! One SQL statement parsed for our pipeline: GlueSQL's AST, plus the parts of PostgreSQL's
//! syntax that GlueSQL refuses and the simulator carries out itself.
//!
//! GlueSQL's translator rejects a `SELECT` with a locking clause, `BEGIN ISOLATION LEVEL …`,
//! `SET TRANSACTION …` and `SET <setting> = …`; PostgreSQL users type all of them. This module
//! takes them apart before GlueSQL sees the statement:
//!
//! - `SELECT … FOR UPDATE | FOR NO KEY UPDATE | FOR SHARE | FOR KEY SHARE [NOWAIT | SKIP LOCKED]`
//!   becomes the plain `SELECT` and a [`LockingClause`] (the lock planner locks the rows);
//! - `BEGIN [ISOLATION LEVEL …]` / `START TRANSACTION …` becomes GlueSQL's `BEGIN` and the level;
//! - `SET TRANSACTION ISOLATION LEVEL …`, `SET lock_timeout = …` and
//!   `SET statement_timeout = …` become a [`Setting`] for the connection.
//!
//! PostgreSQL's level names mean PostgreSQL's levels: `READ UNCOMMITTED` (which PostgreSQL runs
//! as READ COMMITTED) and `READ COMMITTED` → `read_committed`, `REPEATABLE READ` →
//! `repeatable_read`, `SERIALIZABLE` → `serializable`. The locking levels have no SQL form:
//! a scenario or the page chooses them.

use crate::sim::clock::Micros;
use crate::sim::lock_plan::Isolation;
use crate::sim::locks::{RowLockMode, WaitPolicy};
use gluesql::core::ast::Statement;
use gluesql::core::error::Error as GlueError;
use gluesql::core::sqlparser::ast::{
    Expr as SqlExpr, LockType, NonBlock, ObjectName, ObjectType, Statement as SqlStatement,
    TransactionIsolationLevel, TransactionMode,
};
use gluesql::core::sqlparser::dialect::PostgreSqlDialect;
use gluesql::core::sqlparser::tokenizer::{Token, Tokenizer};
use gluesql::prelude::{parse, translate};
use thiserror::Error;

/// A `FOR UPDATE`-style clause taken off a `SELECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockingClause {
    /// The row lock each returned row gets.
    pub strength: RowLockMode,
    /// What to do about a row another transaction has locked.
    pub wait: WaitPolicy,
}

/// A connection setting changed by SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `SET TRANSACTION ISOLATION LEVEL …`: the open transaction's level.
    TransactionIsolation(Isolation),
    /// `SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL …`: later transactions'.
    SessionIsolation(Isolation),
    /// `SET lock_timeout = …` (`None`: wait without limit).
    LockTimeout(Option<Micros>),
    /// `SET statement_timeout = …` (`None`: no limit).
    StatementTimeout(Option<Micros>),
}

/// What a statement asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A statement for GlueSQL, with the locking clause taken off a `SELECT`, if any.
    Sql {
        /// GlueSQL's statement.
        statement: Statement,
        /// `FOR UPDATE` and friends.
        locking: Option<LockingClause>,
    },
    /// `BEGIN`, possibly with the transaction's isolation level.
    Begin(Option<Isolation>),
    /// A `SET`.
    Set(Setting),
    /// `CREATE [OR REPLACE] VIEW name [(columns)] AS query` (views live in our layer:
    /// `crate::sim::views`).
    CreateView {
        /// The view's name.
        name: String,
        /// The column names listed, if any.
        columns: Vec<String>,
        /// GlueSQL's translation of the view's query.
        query: gluesql::core::ast::Query,
        /// `OR REPLACE`.
        or_replace: bool,
    },
    /// `DROP VIEW [IF EXISTS] name, …`.
    DropView {
        /// The views to drop.
        names: Vec<String>,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// PostgreSQL's `DROP INDEX [IF EXISTS] name`, before the connection finds the index's
    /// table (GlueSQL's own form is `DROP INDEX table.name`).
    DropIndex {
        /// The index to drop.
        name: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
}

/// A statement the simulator's SQL does not accept, with a message in PostgreSQL's words.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StatementError {
    /// A `SET` of a setting the simulator does not have.
    #[error("unrecognized configuration parameter \"{0}\" (the simulator knows lock_timeout and statement_timeout)")]
    UnknownSetting(String),
    /// A timeout that is not a duration.
    #[error(
        "invalid value for parameter \"{name}\": \"{value}\" (write 250, '250ms', '2s' or '1min')"
    )]
    BadDuration {
        /// The setting.
        name: String,
        /// What was given.
        value: String,
    },
    /// A locking clause where PostgreSQL refuses one.
    #[error("{0} is not allowed with {1}")]
    LockingNotAllowed(&'static str, &'static str),
    /// A statement of PostgreSQL's that the simulator does not carry out.
    #[error("{0} is not supported by this simulator")]
    Unsupported(&'static str),
    /// `FOR UPDATE` over a join or a derived table.
    #[error("{0} locks the rows of one table in this simulator: select from a single table")]
    LockingJoin(&'static str),
}

/// Why a statement could not be prepared: GlueSQL's parse or translate error, or ours.
#[derive(Debug, Error, PartialEq)]
pub enum PrepareError {
    /// GlueSQL refused it.
    #[error(transparent)]
    Glue(#[from] GlueError),
    /// The simulator's own SQL refused it.
    #[error(transparent)]
    Statement(#[from] StatementError),
}

impl StatementError {
    /// PostgreSQL's code for the refusal.
    pub fn sqlstate(&self) -> crate::sim::sqlstate::SqlState {
        use crate::sim::sqlstate::SqlState;
        match self {
            Self::UnknownSetting(_) => SqlState::UndefinedObject,
            Self::BadDuration { .. } => SqlState::InvalidParameterValue,
            Self::LockingNotAllowed(..) | Self::LockingJoin(_) | Self::Unsupported(_) => {
                SqlState::FeatureNotSupported
            }
        }
    }
}

/// Parses one statement (the text must hold exactly one).
///
/// # Errors
///
/// GlueSQL's parse or translate error, or a [`StatementError`] as a GlueSQL error.
pub fn prepare(sql: &str) -> Result<Command, GlueError> {
    prepare_command(sql).map_err(|error| match error {
        PrepareError::Glue(error) => error,
        PrepareError::Statement(error) => error.into_glue(),
    })
}

/// Parses one statement (the text must hold exactly one), keeping our refusals typed.
///
/// # Errors
///
/// GlueSQL's parse or translate error, or a [`StatementError`].
pub fn prepare_command(sql: &str) -> Result<Command, PrepareError> {
    let sql = normalise_set_keywords(sql);
    let (text, strength) = normalise_lock_strength(&sql);
    let mut parsed = parse(&text)?;
    let Some(mut statement) = parsed.pop() else {
        return Err(GlueError::Parser("there is no SQL statement".to_owned()).into());
    };
    if !parsed.is_empty() {
        return Err(GlueError::Parser(format!(
            "expected one SQL statement, found {}",
            parsed.len() + 1
        ))
        .into());
    }
    match &mut statement {
        SqlStatement::StartTransaction { modes, .. } => {
            let isolation = isolation_of(modes);
            modes.clear();
            translate(&statement)?;
            Ok(Command::Begin(isolation))
        }
        SqlStatement::SetTransaction { modes, session, .. } => {
            let isolation = isolation_of(modes).unwrap_or_default();
            Ok(Command::Set(if *session {
                Setting::SessionIsolation(isolation)
            } else {
                Setting::TransactionIsolation(isolation)
            }))
        }
        SqlStatement::SetVariable {
            variables, value, ..
        } => {
            let name = variables.to_string().to_ascii_lowercase();
            let value = value.first().map(SqlExpr::to_string).unwrap_or_default();
            let duration = || {
                parse_duration(&value).ok_or_else(|| StatementError::BadDuration {
                    name: name.clone(),
                    value: value.clone(),
                })
            };
            let setting = match name.as_str() {
                "lock_timeout" => Setting::LockTimeout(duration()?),
                "statement_timeout" => Setting::StatementTimeout(duration()?),
                _ => return Err(StatementError::UnknownSetting(name).into()),
            };
            Ok(Command::Set(setting))
        }
        SqlStatement::Query(query) if !query.locks.is_empty() => {
            let clause = query.locks.remove(0);
            let strength = strength.unwrap_or(match clause.lock_type {
                LockType::Update => RowLockMode::ForUpdate,
                LockType::Share => RowLockMode::ForShare,
            });
            let wait = match clause.nonblock {
                None => WaitPolicy::Wait,
                Some(NonBlock::Nowait) => WaitPolicy::NoWait,
                Some(NonBlock::SkipLocked) => WaitPolicy::SkipLocked,
            };
            query.locks.clear();
            let statement = translate(&statement)?;
            check_lockable(&statement, strength)?;
            Ok(Command::Sql {
                statement,
                locking: Some(LockingClause { strength, wait }),
            })
        }
        SqlStatement::CreateView { .. } => create_view(statement),
        SqlStatement::Drop {
            object_type: ObjectType::View,
            if_exists,
            names,
            ..
        } => Ok(Command::DropView {
            names: names.iter().map(object_name).collect(),
            if_exists: *if_exists,
        }),
        SqlStatement::Drop {
            object_type: ObjectType::Index,
            if_exists,
            names,
            ..
        } if names.len() == 1 && names[0].0.len() == 1 => Ok(Command::DropIndex {
            name: object_name(&names[0]),
            if_exists: *if_exists,
        }),
        _ => Ok(Command::Sql {
            statement: translate(&statement)?,
            locking: None,
        }),
    }
}

/// `CREATE VIEW`, its query translated by GlueSQL. (It takes the statement by value: cloning
/// the parser's syntax tree would cost the page tens of kilobytes of code.)
fn create_view(statement: SqlStatement) -> Result<Command, PrepareError> {
    let SqlStatement::CreateView {
        or_replace,
        materialized,
        name,
        columns,
        query,
        ..
    } = statement
    else {
        return Err(StatementError::Unsupported("this statement").into());
    };
    if materialized {
        return Err(StatementError::Unsupported("CREATE MATERIALIZED VIEW").into());
    }
    let Statement::Query(query) = translate(&SqlStatement::Query(query))? else {
        return Err(StatementError::Unsupported("this view's query").into());
    };
    Ok(Command::CreateView {
        name: object_name(&name),
        columns: columns.into_iter().map(|c| c.name.value).collect(),
        query,
        or_replace,
    })
}

/// A relation's name as GlueSQL writes it: its parts' values, joined by dots.
fn object_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|ident| ident.value.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

impl StatementError {
    fn into_glue(self) -> GlueError {
        GlueError::StorageMsg(self.to_string())
    }
}

impl From<StatementError> for GlueError {
    fn from(error: StatementError) -> Self {
        error.into_glue()
    }
}

/// The clause's words, for messages (`FOR UPDATE`).
pub fn clause_words(strength: RowLockMode) -> &'static str {
    match strength {
        RowLockMode::ForUpdate => "FOR UPDATE",
        RowLockMode::ForNoKeyUpdate => "FOR NO KEY UPDATE",
        RowLockMode::ForShare => "FOR SHARE",
        RowLockMode::ForKeyShare => "FOR KEY SHARE",
    }
}

/// PostgreSQL's refusals: no locking clause with `GROUP BY`, `HAVING` or `DISTINCT`, nor (here)
/// over joins.
fn check_lockable(statement: &Statement, strength: RowLockMode) -> Result<(), StatementError> {
    use gluesql::core::ast::{SetExpr, TableFactor};
    let words = clause_words(strength);
    let Statement::Query(query) = statement else {
        return Ok(());
    };
    let SetExpr::Select(select) = &query.body else {
        return Err(StatementError::LockingNotAllowed(words, "VALUES"));
    };
    if !select.group_by.is_empty() {
        return Err(StatementError::LockingNotAllowed(words, "GROUP BY clause"));
    }
    if select.having.is_some() {
        return Err(StatementError::LockingNotAllowed(words, "HAVING clause"));
    }
    if select.distinct {
        return Err(StatementError::LockingNotAllowed(words, "DISTINCT clause"));
    }
    if !select.from.joins.is_empty() || !matches!(select.from.relation, TableFactor::Table { .. }) {
        return Err(StatementError::LockingJoin(words));
    }
    Ok(())
}

/// sqlparser knows `FOR UPDATE` and `FOR SHARE` only: rewrites `FOR NO KEY UPDATE` and
/// `FOR KEY SHARE` to those and says which strength was meant.
fn normalise_lock_strength(sql: &str) -> (String, Option<RowLockMode>) {
    // Both strengths have the word KEY: a statement without it is not tokenized (a tenth of a
    // short query's cost).
    if !sql
        .as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"KEY"))
    {
        return (sql.to_owned(), None);
    }
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return (sql.to_owned(), None); // The parser will report it.
    };
    let word = |t: &Token| match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    };
    // The words, with their token positions (white space skipped).
    let words: Vec<(usize, String)> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t, Token::Whitespace(_)))
        .map(|(i, t)| (i, word(t).unwrap_or_default()))
        .collect();
    for at in 0..words.len() {
        let next: Vec<&str> = words[at..]
            .iter()
            .take(4)
            .map(|(_, w)| w.as_str())
            .collect();
        // The words to drop after FOR, and the strength they meant.
        let (strength, drop) = match next.as_slice() {
            ["FOR", "NO", "KEY", "UPDATE"] => (RowLockMode::ForNoKeyUpdate, 2),
            ["FOR", "KEY", "SHARE", ..] => (RowLockMode::ForKeyShare, 1),
            _ => continue,
        };
        let removed: Vec<usize> = words[at + 1..at + 1 + drop]
            .iter()
            .map(|(i, _)| *i)
            .collect();
        let text = tokens
            .iter()
            .enumerate()
            .filter(|(i, _)| !removed.contains(i))
            .map(|(_, t)| t.to_string())
            .collect();
        return (text, Some(strength));
    }
    (sql.to_owned(), None)
}

/// sqlparser 0.52 recognises `SET TRANSACTION` and `SET SESSION CHARACTERISTICS` only in
/// capitals (it compares the words it read as a variable name); PostgreSQL's keywords are
/// case-insensitive, so in a `SET` those two words are written in capitals first.
fn normalise_set_keywords(sql: &str) -> std::borrow::Cow<'_, str> {
    // Most statements are not a SET: no tokenizing for them.
    let head = sql.trim_start().get(..3).unwrap_or_default();
    if !head.eq_ignore_ascii_case("SET") {
        return sql.into();
    }
    let Ok(mut tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return sql.into(); // The parser will report it.
    };
    let mut words = tokens
        .iter_mut()
        .filter_map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => Some(w),
            _ => None,
        })
        .take(3);
    if !words
        .next()
        .is_some_and(|w| w.value.eq_ignore_ascii_case("SET"))
    {
        return sql.into();
    }
    let mut changed = false;
    for word in words {
        let upper = word.value.to_ascii_uppercase();
        if (upper == "TRANSACTION" || upper == "CHARACTERISTICS") && word.value != upper {
            word.value = upper;
            changed = true;
        }
    }
    if changed {
        tokens
            .iter()
            .map(ToString::to_string)
            .collect::<String>()
            .into()
    } else {
        sql.into()
    }
}

fn isolation_of(modes: &[TransactionMode]) -> Option<Isolation> {
    modes.iter().find_map(|mode| match mode {
        TransactionMode::IsolationLevel(level) => Some(match level {
            TransactionIsolationLevel::ReadUncommitted
            | TransactionIsolationLevel::ReadCommitted => Isolation::ReadCommitted,
            TransactionIsolationLevel::RepeatableRead => Isolation::RepeatableRead,
            TransactionIsolationLevel::Serializable => Isolation::Serializable,
        }),
        TransactionMode::AccessMode(_) => None,
    })
}

/// A PostgreSQL duration setting: a number of milliseconds, or a number with `ms`, `s`, `min`
/// or `h`; `0` and `DEFAULT` mean no limit.
pub fn parse_duration(text: &str) -> Option<Option<Micros>> {
    let text = text.trim().trim_matches('\'').trim();
    if text.eq_ignore_ascii_case("default") {
        return Some(None);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let micros_per = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" => 1_000.0,
        "us" => 1.0,
        "s" => 1_000_000.0,
        "min" => 60_000_000.0,
        "h" => 3_600_000_000.0,
        _ => return None,
    };
    let micros = (number * micros_per).round();
    if !micros.is_finite() || micros < 0.0 {
        return None;
    }
    Some((micros >= 1.0).then_some(micros as Micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locking(sql: &str) -> Option<LockingClause> {
        match prepare(sql).expect("prepares") {
            Command::Sql { locking, .. } => locking,
            other => panic!("not SQL: {other:?}"),
        }
    }

    #[test]
    fn locking_clauses_are_taken_off_the_select() {
        let clause = |strength, wait| Some(LockingClause { strength, wait });
        use RowLockMode::*;
        assert_eq!(
            locking("SELECT * FROM jobs WHERE id = 1 FOR UPDATE"),
            clause(ForUpdate, WaitPolicy::Wait)
        );
        assert_eq!(
            locking("SELECT * FROM jobs ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"),
            clause(ForUpdate, WaitPolicy::SkipLocked)
        );
        assert_eq!(
            locking("select * from jobs for no key update nowait"),
            clause(ForNoKeyUpdate, WaitPolicy::NoWait)
        );
        assert_eq!(
            locking("SELECT * FROM jobs FOR SHARE"),
            clause(ForShare, WaitPolicy::Wait)
        );
        assert_eq!(
            locking("SELECT * FROM jobs FOR KEY SHARE"),
            clause(ForKeyShare, WaitPolicy::Wait)
        );
        assert_eq!(
            locking("SELECT * FROM jobs FOR KEY SHARE SKIP LOCKED"),
            clause(ForKeyShare, WaitPolicy::SkipLocked)
        );
        assert_eq!(locking("SELECT 'for no key update' AS t"), None);
    }

    #[test]
    fn locking_is_refused_where_postgresql_refuses_it() {
        let error = |sql: &str| prepare(sql).expect_err("refused").to_string();
        assert!(
            error("SELECT status, COUNT(*) FROM jobs GROUP BY status FOR UPDATE")
                .contains("FOR UPDATE is not allowed with GROUP BY clause")
        );
        assert!(error("SELECT DISTINCT status FROM jobs FOR SHARE")
            .contains("FOR SHARE is not allowed with DISTINCT clause"));
        assert!(
            error("SELECT * FROM jobs j JOIN jobs k ON j.id = k.id FOR UPDATE")
                .contains("one table")
        );
    }

    #[test]
    fn isolation_levels_use_postgresqls_names() {
        assert_eq!(
            prepare("BEGIN ISOLATION LEVEL SERIALIZABLE").expect("ok"),
            Command::Begin(Some(Isolation::Serializable))
        );
        assert_eq!(
            prepare("START TRANSACTION ISOLATION LEVEL REPEATABLE READ").expect("ok"),
            Command::Begin(Some(Isolation::RepeatableRead))
        );
        assert_eq!(prepare("BEGIN").expect("ok"), Command::Begin(None));
        assert_eq!(
            prepare("SET TRANSACTION ISOLATION LEVEL READ COMMITTED").expect("ok"),
            Command::Set(Setting::TransactionIsolation(Isolation::ReadCommitted))
        );
        assert_eq!(
            prepare("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                .expect("ok"),
            Command::Set(Setting::SessionIsolation(Isolation::Serializable))
        );
    }

    #[test]
    fn keywords_are_read_in_any_case() {
        for (sql, expected) in [
            (
                "set transaction isolation level serializable",
                Command::Set(Setting::TransactionIsolation(Isolation::Serializable)),
            ),
            (
                "begin isolation level repeatable read",
                Command::Begin(Some(Isolation::RepeatableRead)),
            ),
            (
                "Set Session Characteristics As Transaction Isolation Level Read Committed",
                Command::Set(Setting::SessionIsolation(Isolation::ReadCommitted)),
            ),
        ] {
            assert_eq!(
                prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}")),
                expected,
                "{sql}"
            );
        }
    }

    #[test]
    fn timeouts_take_postgresqls_units() {
        assert_eq!(
            prepare("SET lock_timeout = '250ms'").expect("ok"),
            Command::Set(Setting::LockTimeout(Some(250_000)))
        );
        assert_eq!(
            prepare("SET statement_timeout TO 2000").expect("ok"),
            Command::Set(Setting::StatementTimeout(Some(2_000_000)))
        );
        assert_eq!(
            prepare("SET lock_timeout = 0").expect("ok"),
            Command::Set(Setting::LockTimeout(None))
        );
        assert_eq!(parse_duration("'1.5s'"), Some(Some(1_500_000)));
        assert_eq!(parse_duration("1min"), Some(Some(60_000_000)));
        assert_eq!(parse_duration("soon"), None);
        let bad = prepare("SET lock_timeout = 'soon'").expect_err("bad value");
        assert!(bad
            .to_string()
            .contains("invalid value for parameter \"lock_timeout\""));
        let unknown = prepare("SET work_mem = '4MB'").expect_err("unknown");
        assert!(unknown
            .to_string()
            .contains("unrecognized configuration parameter \"work_mem\""));
    }
}
