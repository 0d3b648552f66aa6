//! The SQL console's database served away from the page — in a Web Worker, where the engine
//! is — so that the page carries no engine and a panic of GlueSQL takes only the worker.
//!
//! The page sends [`ToConsole`] messages (run a script, load the shop afresh) and hears
//! [`FromConsole`] news: the database is ready, a script ran, or the server stopped. They
//! travel as JSON. Nothing here knows the browser: the worker's loop in `ui` drives the server,
//! and natively the tests below.

use crate::sim::console::{ConsoleDatabase, ConsoleResult, ConsoleSchema};
use crate::sim::database::Database;
use crate::sim::shop::{self, DEFAULT_SEED};
use serde::{Deserialize, Serialize};

/// The name of the console's database.
pub const CONSOLE_DATABASE: &str = "shop";

/// A message from the page to the console's database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToConsole {
    /// Run `script`, statement by statement; answered with `id`.
    Run {
        /// The page's number for the run.
        id: u32,
        /// The script.
        script: String,
    },
    /// Throw the database away and seed a fresh shop.
    Reset,
}

/// A message from the console's database to the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromConsole {
    /// A fresh shop database is ready (at start, after a reset), with its schema; `notice`
    /// says why it is empty, if its data could not be loaded.
    Ready {
        /// The schema.
        schema: ConsoleSchema,
        /// What went wrong loading the shop's data, if anything.
        notice: Option<String>,
    },
    /// Script `id` ran: a result per statement, and the schema after it.
    Ran {
        /// The run answered.
        id: u32,
        /// One result per statement, in order.
        results: Vec<ConsoleResult>,
        /// The schema after the run.
        schema: ConsoleSchema,
    },
    /// The server stopped (a panic of the engine, a module that did not load): the database
    /// is gone.
    Failed {
        /// Why.
        why: String,
        /// The SQL statement the engine was running when it panicked, if it was.
        #[serde(default)]
        statement: Option<String>,
    },
}

/// The console's database, with the messages it takes.
pub struct ConsoleServer {
    db: ConsoleDatabase,
}

impl ConsoleServer {
    /// A server on a freshly seeded shop, and the news that says so.
    pub fn start() -> (Self, FromConsole) {
        let (db, notice) = fresh_shop();
        let ready = FromConsole::Ready {
            schema: db.schema(),
            notice,
        };
        (Self { db }, ready)
    }

    /// Takes in one message from the page and says what to post back. `clock` times each
    /// statement (ms).
    pub fn receive(&mut self, message: ToConsole, clock: impl FnMut() -> f64) -> FromConsole {
        match message {
            ToConsole::Run { id, script } => FromConsole::Ran {
                id,
                results: self.db.run(&script, clock),
                schema: self.db.schema(),
            },
            ToConsole::Reset => {
                let (server, ready) = Self::start();
                *self = server;
                ready
            }
        }
    }
}

/// The shop's database, seeded with [`DEFAULT_SEED`]; an empty one, and why, if it cannot be.
fn fresh_shop() -> (ConsoleDatabase, Option<String>) {
    match shop::shop_database(CONSOLE_DATABASE, DEFAULT_SEED) {
        Ok(db) => (ConsoleDatabase::new(db), None),
        Err(error) => (
            ConsoleDatabase::new(Database::new(CONSOLE_DATABASE)),
            Some(format!("The shop data could not be loaded: {error}")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `message` through JSON, and the answer back through JSON.
    fn send(server: &mut ConsoleServer, message: ToConsole) -> FromConsole {
        let text = serde_json::to_string(&message).expect("it writes");
        let message: ToConsole = serde_json::from_str(&text).expect("it reads back");
        let answer = server.receive(message, || 0.0);
        let text = serde_json::to_string(&answer).expect("it writes");
        serde_json::from_str(&text).expect("it reads back")
    }

    fn orders(schema: &ConsoleSchema) -> usize {
        schema
            .tables
            .as_ref()
            .expect("the tables read")
            .iter()
            .find(|t| t.name == "orders")
            .map_or(0, |t| t.row_count)
    }

    #[test]
    fn the_console_runs_scripts_on_a_seeded_shop_and_a_reset_loads_it_afresh() {
        let (mut server, ready) = ConsoleServer::start();
        let FromConsole::Ready {
            schema,
            notice: None,
        } = ready
        else {
            panic!("a shop: {ready:?}");
        };
        let seeded = orders(&schema);
        assert!(seeded > 0, "the shop has orders");
        let answer = send(
            &mut server,
            ToConsole::Run {
                id: 3,
                script: "DELETE FROM orders WHERE id = 1; SELECT COUNT(*) FROM orders; SELECT * FROM nope"
                    .to_owned(),
            },
        );
        let FromConsole::Ran {
            id: 3,
            results,
            schema,
        } = answer
        else {
            panic!("run 3 answered: {answer:?}");
        };
        assert_eq!(results.len(), 3);
        assert!(results[0].result.is_ok() && results[2].result.is_err());
        assert_eq!(orders(&schema), seeded - 1, "one order fewer");
        let FromConsole::Ready { schema, .. } = send(&mut server, ToConsole::Reset) else {
            panic!("ready again");
        };
        assert_eq!(orders(&schema), seeded, "the shop as seeded");
    }
}
