//! The page's state and the actions that change it, reduced in one place.
//!
//! The console session itself ([`ConsoleSession`]) lives in `sim`, its database in the console's
//! worker ([`ConsoleClient`]); this wraps them for Yew. Each part of the page has its own version
//! number, so a keystroke in the editor does not re-render
//! a large result table.

use crate::sim::console::{ConsoleSession, History};
use crate::sim::console_server::FromConsole;
use crate::ui::browser;
use crate::ui::console_worker::ConsoleClient;
use std::cell::RefCell;
use std::rc::Rc;
use yew::{Properties, Reducible};

pub use crate::sim::console_server::CONSOLE_DATABASE as DATABASE_NAME;

/// Ready-made queries a student can run with one click.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "Orders by status",
        "SELECT status, COUNT(*) AS orders, SUM(total_cents) / 100 AS revenue\n\
         FROM orders\nGROUP BY status\nORDER BY orders DESC;",
    ),
    (
        "Top customers",
        "SELECT c.name, c.country, COUNT(*) AS orders\n\
         FROM customers c\nJOIN orders o ON o.customer_id = c.id\n\
         GROUP BY c.id, c.name, c.country\nORDER BY orders DESC\nLIMIT 10;",
    ),
    (
        "Poll the jobs table",
        "-- The \"database as a message queue\" anti-pattern: workers poll this.\n\
         SELECT id, kind, payload, created_at\nFROM jobs\nWHERE status = 'pending'\nORDER BY created_at;",
    ),
    (
        "Unpaid invoices",
        "SELECT i.id, i.order_id, i.amount_cents, c.email\n\
         FROM invoices i\nJOIN orders o ON o.id = i.order_id\n\
         JOIN customers c ON c.id = o.customer_id\nWHERE i.status = 'open'\nORDER BY i.issued_at;",
    ),
];

/// What the page shows: the console session and the versions of its parts.
pub struct AppState {
    /// The console: the editor, the history, the results and the schema as of the last run.
    pub session: Rc<RefCell<ConsoleSession>>,
    /// The console's database, in its worker.
    pub client: Rc<ConsoleClient>,
    /// Bumped when the results change.
    pub runs_version: u64,
    /// Bumped when tables, columns or row counts may have changed.
    pub schema_version: u64,
    /// A message for the user about the page itself (the engine stopped, say).
    pub notice: Option<Notice>,
    /// Whether the database is ready (its shop seeded).
    pub ready: bool,
}

/// What the user can do, and what the console's worker says.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The editor text changed.
    Edit(String),
    /// Run the editor's script.
    Run,
    /// Put an example in the editor and run it.
    RunExample(String),
    /// Show the previous script of the history (↑).
    HistoryPrevious,
    /// Show the next script of the history, or the draft (↓).
    HistoryNext,
    /// Forget the results on screen.
    ClearResults,
    /// Throw the database away and seed a fresh shop.
    ResetDatabase,
    /// News from the console's worker.
    News(Rc<FromConsole>),
}

/// A message for the user about the page itself, shown above the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What happened, in plain words.
    pub message: String,
    /// The SQL it is about, if any.
    pub sql: Option<String>,
}

impl AppState {
    /// A console whose database is being seeded in its worker, with the editor text and
    /// history the browser kept.
    pub fn load() -> Self {
        let mut session = ConsoleSession::new();
        session.set_history(History::from_entries(browser::load_history()));
        session.draft = browser::load_draft().unwrap_or_else(|| {
            EXAMPLES
                .first()
                .map(|(_, sql)| (*sql).to_owned())
                .unwrap_or_default()
        });
        Self {
            session: Rc::new(RefCell::new(session)),
            client: ConsoleClient::start(),
            runs_version: 0,
            schema_version: 0,
            notice: None,
            ready: false,
        }
    }

    fn bumped(&self, runs: bool, schema: bool) -> Self {
        Self {
            session: Rc::clone(&self.session),
            client: Rc::clone(&self.client),
            runs_version: self.runs_version + u64::from(runs),
            schema_version: self.schema_version + u64::from(schema),
            notice: self.notice.clone(),
            ready: self.ready,
        }
    }
}

/// Which parts of the page an action changed: `(runs, schema)`, or `None` for nothing.
type Change = Option<(bool, bool)>;

impl AppState {
    fn apply(&mut self, action: Action) -> Change {
        let mut session = self.session.borrow_mut();
        match action {
            Action::Edit(text) => {
                if session.draft == text {
                    return None;
                }
                session.draft = text;
                browser::save_draft(&session.draft);
                Some((false, false))
            }
            Action::Run => {
                run(&mut session, &self.client);
                Some((true, false))
            }
            Action::RunExample(sql) => {
                session.draft = sql;
                run(&mut session, &self.client);
                Some((true, false))
            }
            Action::HistoryPrevious => session.history_previous().then_some((false, false)),
            Action::HistoryNext => session.history_next().then_some((false, false)),
            Action::ClearResults => {
                session.clear_runs();
                Some((true, false))
            }
            Action::ResetDatabase => {
                self.ready = false;
                self.notice = None;
                self.client.reset();
                Some((false, false))
            }
            Action::News(news) => match &*news {
                FromConsole::Ready { schema, notice } => {
                    session.connect(schema.clone());
                    self.ready = true;
                    if let Some(message) = notice {
                        self.notice = Some(Notice {
                            message: message.clone(),
                            sql: None,
                        });
                    }
                    Some((true, true))
                }
                FromConsole::Ran {
                    results, schema, ..
                } => {
                    session.finish_run(results.clone(), schema.clone());
                    browser::save_history(session.history().entries());
                    Some((true, true))
                }
                FromConsole::Failed { why, statement } => {
                    let script = session.disconnect();
                    self.ready = false;
                    self.notice = Some(if self.client.has_served() {
                        // A fresh database in a new worker.
                        self.client.reset();
                        Notice {
                            message: format!(
                                "The SQL engine stopped ({why}), so the database was loaded fresh. {}",
                                if script.is_some() {
                                    "The script is still in the editor."
                                } else {
                                    ""
                                }
                            )
                            .trim_end()
                            .to_owned(),
                            sql: statement.clone().or(script).map(|s| s.trim().to_owned()),
                        }
                    } else {
                        Notice {
                            message: format!(
                                "The console's database cannot start: {why}. Reload the page to try again."
                            ),
                            sql: None,
                        }
                    });
                    Some((true, true))
                }
            },
        }
    }
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = self.bumped(false, false);
        match next.apply(action) {
            Some((runs, schema)) => Rc::new(next.bumped(runs, schema)),
            None => self,
        }
    }
}

/// Runs the draft in the console's worker. The draft and the history are saved first, so
/// nothing the user wrote is lost if the engine stops during the run.
fn run(session: &mut ConsoleSession, client: &Rc<ConsoleClient>) {
    browser::save_draft(&session.draft);
    if let Some(script) = session.start_run() {
        browser::save_history(session.history().entries());
        client.run(script);
    }
}

/// Props for a part of the page that reads the console session: the session and the version of
/// the part it shows. Compared by version only, so the part re-renders only when it changed.
#[derive(Properties)]
pub struct SessionProps {
    /// The console session.
    pub session: Rc<RefCell<ConsoleSession>>,
    /// Changes whenever what this part shows changes.
    pub version: u64,
}

impl PartialEq for SessionProps {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version && Rc::ptr_eq(&self.session, &other.session)
    }
}
