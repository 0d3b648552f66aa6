//! SQLSTATE: PostgreSQL's five-character error codes, carried by every error the simulated
//! database returns (`40001` serialization failure, `40P01` deadlock, `55P03` lock not available,
//! …) — what a client program branches on, and what an error's kind is derived from.
//!
//! The codes and condition names are PostgreSQL's (Appendix A of its manual, "PostgreSQL Error
//! Codes"). GlueSQL's own errors are given the code PostgreSQL uses for the same mistake.

use serde::Serialize;
use std::fmt;

/// One of PostgreSQL's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub enum SqlState {
    /// `0A000` feature_not_supported.
    FeatureNotSupported,
    /// `22000` data_exception.
    DataException,
    /// `22003` numeric_value_out_of_range.
    NumericValueOutOfRange,
    /// `22012` division_by_zero.
    DivisionByZero,
    /// `22P02` invalid_text_representation.
    InvalidTextRepresentation,
    /// `22023` invalid_parameter_value (a bad `SET` value).
    InvalidParameterValue,
    /// `23502` not_null_violation.
    NotNullViolation,
    /// `23503` foreign_key_violation.
    ForeignKeyViolation,
    /// `23505` unique_violation.
    UniqueViolation,
    /// `25001` active_sql_transaction (`SET TRANSACTION` after a query).
    ActiveSqlTransaction,
    /// `25P01` no_active_sql_transaction (`SET TRANSACTION` outside a transaction block).
    NoActiveSqlTransaction,
    /// `25P02` in_failed_sql_transaction: "current transaction is aborted".
    InFailedSqlTransaction,
    /// `40001` serialization_failure.
    SerializationFailure,
    /// `40P01` deadlock_detected.
    DeadlockDetected,
    /// `42501` insufficient_privilege ("permission denied for table").
    InsufficientPrivilege,
    /// `42601` syntax_error.
    SyntaxError,
    /// `42701` duplicate_column.
    DuplicateColumn,
    /// `42703` undefined_column.
    UndefinedColumn,
    /// `42804` datatype_mismatch.
    DatatypeMismatch,
    /// `42883` undefined_function.
    UndefinedFunction,
    /// `42P01` undefined_table.
    UndefinedTable,
    /// `42P07` duplicate_table.
    DuplicateTable,
    /// `42809` wrong_object_type.
    WrongObjectType,
    /// `42P10` invalid_column_reference.
    InvalidColumnReference,
    /// `42P17` invalid_object_definition.
    InvalidObjectDefinition,
    /// `42704` undefined_object (an unknown index).
    UndefinedObject,
    /// `42000` syntax_error_or_access_rule_violation: a statement the engine cannot run as
    /// written.
    SyntaxErrorOrAccessRuleViolation,
    /// `55P03` lock_not_available (`NOWAIT`, `lock_timeout`).
    LockNotAvailable,
    /// `57014` query_canceled (`statement_timeout`).
    QueryCanceled,
    /// `XX000` internal_error.
    InternalError,
}

impl SqlState {
    /// The five-character code (`40001`).
    pub fn code(self) -> &'static str {
        match self {
            Self::FeatureNotSupported => "0A000",
            Self::DataException => "22000",
            Self::NumericValueOutOfRange => "22003",
            Self::DivisionByZero => "22012",
            Self::InvalidTextRepresentation => "22P02",
            Self::InvalidParameterValue => "22023",
            Self::NotNullViolation => "23502",
            Self::ForeignKeyViolation => "23503",
            Self::UniqueViolation => "23505",
            Self::ActiveSqlTransaction => "25001",
            Self::NoActiveSqlTransaction => "25P01",
            Self::InFailedSqlTransaction => "25P02",
            Self::SerializationFailure => "40001",
            Self::DeadlockDetected => "40P01",
            Self::InsufficientPrivilege => "42501",
            Self::SyntaxError => "42601",
            Self::DuplicateColumn => "42701",
            Self::UndefinedColumn => "42703",
            Self::DatatypeMismatch => "42804",
            Self::UndefinedFunction => "42883",
            Self::UndefinedTable => "42P01",
            Self::DuplicateTable => "42P07",
            Self::WrongObjectType => "42809",
            Self::InvalidColumnReference => "42P10",
            Self::InvalidObjectDefinition => "42P17",
            Self::UndefinedObject => "42704",
            Self::SyntaxErrorOrAccessRuleViolation => "42000",
            Self::LockNotAvailable => "55P03",
            Self::QueryCanceled => "57014",
            Self::InternalError => "XX000",
        }
    }

    /// PostgreSQL's condition name (`serialization_failure`), as PL/pgSQL's `EXCEPTION WHEN`
    /// writes it.
    pub fn condition(self) -> &'static str {
        match self {
            Self::FeatureNotSupported => "feature_not_supported",
            Self::DataException => "data_exception",
            Self::NumericValueOutOfRange => "numeric_value_out_of_range",
            Self::DivisionByZero => "division_by_zero",
            Self::InvalidTextRepresentation => "invalid_text_representation",
            Self::InvalidParameterValue => "invalid_parameter_value",
            Self::NotNullViolation => "not_null_violation",
            Self::ForeignKeyViolation => "foreign_key_violation",
            Self::UniqueViolation => "unique_violation",
            Self::ActiveSqlTransaction => "active_sql_transaction",
            Self::NoActiveSqlTransaction => "no_active_sql_transaction",
            Self::InFailedSqlTransaction => "in_failed_sql_transaction",
            Self::SerializationFailure => "serialization_failure",
            Self::DeadlockDetected => "deadlock_detected",
            Self::InsufficientPrivilege => "insufficient_privilege",
            Self::SyntaxError => "syntax_error",
            Self::DuplicateColumn => "duplicate_column",
            Self::UndefinedColumn => "undefined_column",
            Self::DatatypeMismatch => "datatype_mismatch",
            Self::UndefinedFunction => "undefined_function",
            Self::UndefinedTable => "undefined_table",
            Self::DuplicateTable => "duplicate_table",
            Self::WrongObjectType => "wrong_object_type",
            Self::InvalidColumnReference => "invalid_column_reference",
            Self::InvalidObjectDefinition => "invalid_object_definition",
            Self::UndefinedObject => "undefined_object",
            Self::SyntaxErrorOrAccessRuleViolation => "syntax_error_or_access_rule_violation",
            Self::LockNotAvailable => "lock_not_available",
            Self::QueryCanceled => "query_canceled",
            Self::InternalError => "internal_error",
        }
    }

    /// The code a five-character string names, if it is one of ours.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.code() == code)
    }

    /// Every code the simulator produces.
    pub const ALL: [Self; 30] = [
        Self::FeatureNotSupported,
        Self::DataException,
        Self::NumericValueOutOfRange,
        Self::DivisionByZero,
        Self::InvalidTextRepresentation,
        Self::InvalidParameterValue,
        Self::NotNullViolation,
        Self::ForeignKeyViolation,
        Self::UniqueViolation,
        Self::ActiveSqlTransaction,
        Self::NoActiveSqlTransaction,
        Self::InFailedSqlTransaction,
        Self::SerializationFailure,
        Self::DeadlockDetected,
        Self::InsufficientPrivilege,
        Self::SyntaxError,
        Self::DuplicateColumn,
        Self::UndefinedColumn,
        Self::DatatypeMismatch,
        Self::UndefinedFunction,
        Self::UndefinedTable,
        Self::DuplicateTable,
        Self::WrongObjectType,
        Self::InvalidColumnReference,
        Self::InvalidObjectDefinition,
        Self::UndefinedObject,
        Self::SyntaxErrorOrAccessRuleViolation,
        Self::LockNotAvailable,
        Self::QueryCanceled,
        Self::InternalError,
    ];

    /// Whether a client should simply run the transaction again (class 40: serialization
    /// failures and deadlocks).
    pub fn is_retryable(self) -> bool {
        self.code().starts_with("40")
    }
}

/// What a SQLSTATE badge says on hover: the code, PostgreSQL's condition name, and what a
/// client does about it ("40001 serialization_failure: retry the whole transaction").
pub fn describe(code: &str) -> String {
    match SqlState::from_code(code) {
        Some(state) if state.is_retryable() => format!(
            "PostgreSQL's error code (SQLSTATE) {code}, {}: the transaction was rolled back; \
             a client retries the whole transaction from its BEGIN",
            state.condition()
        ),
        Some(state) => format!(
            "PostgreSQL's error code (SQLSTATE) {code}, {}",
            state.condition()
        ),
        None => format!("PostgreSQL's error code (SQLSTATE) {code}"),
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl From<SqlState> for String {
    fn from(state: SqlState) -> Self {
        state.code().to_owned()
    }
}

/// The code PostgreSQL gives the mistake a GlueSQL error reports.
pub fn of_glue(error: &gluesql::core::error::Error) -> SqlState {
    use gluesql::core::error::{
        AlterError, AlterTableError, Error, EvaluateError, ExecuteError, FetchError, InsertError,
        QueryError, UpdateError, ValidateError,
    };
    match error {
        Error::Parser(_) => SqlState::SyntaxError,
        Error::Translate(_) => SqlState::SyntaxErrorOrAccessRuleViolation,
        Error::Fetch(FetchError::TableNotFound(_))
        | Error::Execute(ExecuteError::TableNotFound(_))
        | Error::Insert(InsertError::TableNotFound(_))
        | Error::AlterTable(AlterTableError::TableNotFound(_)) => SqlState::UndefinedTable,
        Error::Alter(error) => match error.as_ref() {
            AlterError::TableNotFound(_) | AlterError::CtasSourceTableNotFound(_) => {
                SqlState::UndefinedTable
            }
            AlterError::TableAlreadyExists(_) => SqlState::DuplicateTable,
            AlterError::DuplicateColumnName(_) => SqlState::DuplicateColumn,
            AlterError::FunctionNotFound(_) => SqlState::UndefinedFunction,
            _ => SqlState::SyntaxErrorOrAccessRuleViolation,
        },
        Error::AlterTable(
            AlterTableError::RenamingColumnNotFound | AlterTableError::DroppingColumnNotFound(_),
        )
        | Error::Update(UpdateError::ColumnNotFound(_))
        | Error::Evaluate(
            EvaluateError::IdentifierNotFound(_) | EvaluateError::CompoundIdentifierNotFound { .. },
        ) => SqlState::UndefinedColumn,
        Error::AlterTable(AlterTableError::AlreadyExistingColumn(_)) => SqlState::DuplicateColumn,
        Error::Insert(InsertError::WrongColumnName(_)) => SqlState::UndefinedColumn,
        Error::Insert(InsertError::LackOfRequiredColumn(_)) => SqlState::NotNullViolation,
        Error::Insert(InsertError::ColumnAndValuesNotMatched) => SqlState::SyntaxError,
        Error::Query(QueryError::TableAliasNotFound(_)) => SqlState::UndefinedTable,
        Error::Validate(
            ValidateError::DuplicateEntryOnPrimaryKeyField(_)
            | ValidateError::DuplicateEntryOnUniqueField(..),
        ) => SqlState::UniqueViolation,
        Error::Index(_) => SqlState::UndefinedObject,
        Error::Value(_) | Error::Evaluate(_) | Error::Interval(_) | Error::StringExt(_) => {
            value_state(&error.to_string())
        }
        Error::Insert(_) | Error::Update(_) | Error::Delete(_) | Error::Table(_) => {
            if error.to_string().to_ascii_lowercase().contains("null") {
                SqlState::NotNullViolation
            } else {
                SqlState::DataException
            }
        }
        Error::StorageMsg(_) => SqlState::InternalError,
        _ => SqlState::SyntaxErrorOrAccessRuleViolation,
    }
}

/// The data exception a value error is: GlueSQL's value errors are many small variants, told
/// apart here by the words PostgreSQL's classes use.
fn value_state(message: &str) -> SqlState {
    let m = message.to_ascii_lowercase();
    if m.contains("divisor") || m.contains("divide") || m.contains("division") {
        SqlState::DivisionByZero
    } else if m.contains("overflow") || m.contains("out of range") {
        SqlState::NumericValueOutOfRange
    } else if m.contains("null") {
        SqlState::NotNullViolation
    } else if m.contains("parse") || m.contains("incompatible") || m.contains("literal") {
        SqlState::InvalidTextRepresentation
    } else if m.contains("function") {
        SqlState::UndefinedFunction
    } else if m.contains("type") {
        SqlState::DatatypeMismatch
    } else {
        SqlState::DataException
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::database::Database;

    #[test]
    fn a_badge_names_the_condition_and_says_to_retry_only_class_40() {
        assert!(describe("40001").contains("serialization_failure"));
        assert!(describe("40P01").contains("retries"));
        assert!(describe("23505").contains("unique_violation"));
        assert!(!describe("23505").contains("retries"));
        assert!(describe("ZZZZZ").contains("ZZZZZ"));
    }

    #[test]
    fn codes_are_five_characters_and_distinct() {
        let mut codes: Vec<&str> = SqlState::ALL.iter().map(|s| s.code()).collect();
        assert!(codes.iter().all(|c| c.len() == 5), "{codes:?}");
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), SqlState::ALL.len());
        for state in SqlState::ALL {
            assert_eq!(SqlState::from_code(state.code()), Some(state));
        }
    }

    #[test]
    fn glue_errors_get_postgresql_codes() {
        let mut db = Database::new("codes");
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
            .expect("create");
        db.execute("INSERT INTO t VALUES (1, 1)").expect("insert");
        let state = |db: &mut Database, sql: &str| db.execute(sql).expect_err(sql).sqlstate();
        assert_eq!(
            state(&mut db, "SELECT * FROM nowhere"),
            SqlState::UndefinedTable
        );
        assert_eq!(
            state(&mut db, "SELECT nope FROM t"),
            SqlState::UndefinedColumn
        );
        assert_eq!(
            state(&mut db, "INSERT INTO t VALUES (1, 2)"),
            SqlState::UniqueViolation
        );
        assert_eq!(state(&mut db, "SELEC 1"), SqlState::SyntaxError);
        assert_eq!(
            state(&mut db, "CREATE TABLE t (id INTEGER)"),
            SqlState::DuplicateTable
        );
        assert_eq!(
            state(&mut db, "ALTER TABLE t RENAME COLUMN gone TO x"),
            SqlState::UndefinedColumn
        );
    }
}
