//! A statement prepared before its turn: what a statement in flight carries between the moment
//! it was issued (its locks planned from the parsed statement) and the moment it runs.
//!
//! It clones with a checkpoint of the world ([`crate::sim::fork`]) although GlueSQL's errors do
//! not: a statement that GlueSQL could not parse or translate is prepared again from its text
//! (preparing is a pure function of the text), which gives the very same error back.

use crate::sim::database::{Connection, DbError};
use crate::sim::statement::Command;

/// A statement's text and what preparing it gave.
#[derive(Debug)]
pub struct PreparedCommand {
    sql: String,
    command: Result<Command, DbError>,
}

impl PreparedCommand {
    /// What preparing `sql` gave (parsing, and for a client, resolving its views).
    pub fn new(sql: &str, command: Result<Command, DbError>) -> Self {
        Self {
            sql: sql.to_owned(),
            command,
        }
    }

    /// The prepared statement, to run.
    pub fn into_command(self) -> Result<Command, DbError> {
        self.command
    }
}

impl Clone for PreparedCommand {
    fn clone(&self) -> Self {
        let command = match &self.command {
            Ok(command) => Ok(command.clone()),
            Err(error) => Err(match error {
                DbError::Sql(_) => match Connection::prepare(&self.sql) {
                    Err(again @ DbError::Sql(_)) => again,
                    // Not from the text alone (a view's query): its words and code kept.
                    _ => DbError::Storage {
                        state: error.sqlstate(),
                        message: error.to_string(),
                    },
                },
                DbError::Empty => DbError::Empty,
                DbError::SeveralStatements(n) => DbError::SeveralStatements(*n),
                DbError::TransactionAborted => DbError::TransactionAborted,
                DbError::LockNotAvailable(message) => DbError::LockNotAvailable(message.clone()),
                DbError::Setting(state, message) => DbError::Setting(*state, message),
                DbError::Statement(error) => DbError::Statement(error.clone()),
                DbError::Storage { state, message } => DbError::Storage {
                    state: *state,
                    message: message.clone(),
                },
                DbError::Refused(error) => DbError::Refused(error.clone()),
                DbError::View(error) => DbError::View(error.clone()),
            }),
        };
        Self {
            sql: self.sql.clone(),
            command,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_glue_could_not_parse_clones_to_the_same_error() {
        let sql = "SELEC 1";
        let prepared = PreparedCommand::new(sql, Connection::prepare(sql));
        let copy = prepared.clone();
        let (Err(original), Err(copied)) = (prepared.into_command(), copy.into_command()) else {
            panic!("{sql} parsed");
        };
        assert!(matches!(copied, DbError::Sql(_)), "{copied:?}");
        assert_eq!(copied, original);
    }

    #[test]
    fn a_prepared_statement_clones_whole() {
        let sql = "SELECT 1";
        let prepared = PreparedCommand::new(sql, Connection::prepare(sql));
        assert_eq!(
            prepared.clone().into_command().ok(),
            prepared.into_command().ok()
        );
    }
}
