//! The page's state and the actions that change it, reduced in one place.
//!
//! The console session itself ([`ConsoleSession`]) lives in `sim`; this wraps it for Yew. Each
//! part of the page has its own version number, so a keystroke in the editor does not re-render
//! a large result table.

use crate::sim::console::{ConsoleSession, History};
use crate::sim::shop::{self, DEFAULT_SEED};
use crate::ui::browser;
use std::cell::RefCell;
use std::rc::Rc;
use yew::{Properties, Reducible};

/// The name of the database the console is connected to.
pub const DATABASE_NAME: &str = "shop";

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
    /// The console and its database.
    pub session: Rc<RefCell<ConsoleSession>>,
    /// Bumped when the results change.
    pub runs_version: u64,
    /// Bumped when tables, columns or row counts may have changed.
    pub schema_version: u64,
    /// A message for the user about the page itself (the engine stopped last time, say).
    pub notice: Option<Notice>,
}

/// What the user can do.
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
}

/// A message for the user about the page itself, shown above the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// What happened, in plain words.
    pub message: String,
    /// The SQL it is about, if any.
    pub sql: Option<String>,
}

fn fresh_session() -> (ConsoleSession, Option<Notice>) {
    match shop::shop_database(DATABASE_NAME, DEFAULT_SEED) {
        Ok(db) => (ConsoleSession::new(db), None),
        Err(error) => (
            ConsoleSession::new(crate::sim::database::Database::new(DATABASE_NAME)),
            Some(Notice {
                message: format!("The shop data could not be loaded: {error}"),
                sql: None,
            }),
        ),
    }
}

impl AppState {
    /// A console on a freshly seeded shop, with the editor text and history the browser kept.
    pub fn load() -> Self {
        let (mut session, mut notice) = fresh_session();
        if let Some(script) = browser::take_pending_run() {
            notice = Some(Notice {
                message: "The SQL engine stopped while running your last script, so the \
                          database was loaded fresh. The script is still in the editor."
                    .to_owned(),
                sql: Some(script.trim().to_owned()),
            });
        }
        session.set_history(History::from_entries(browser::load_history()));
        session.draft = browser::load_draft().unwrap_or_else(|| {
            EXAMPLES
                .first()
                .map(|(_, sql)| (*sql).to_owned())
                .unwrap_or_default()
        });
        Self {
            session: Rc::new(RefCell::new(session)),
            runs_version: 0,
            schema_version: 0,
            notice,
        }
    }

    fn bumped(&self, runs: bool, schema: bool) -> Self {
        Self {
            session: Rc::clone(&self.session),
            runs_version: self.runs_version + u64::from(runs),
            schema_version: self.schema_version + u64::from(schema),
            notice: self.notice.clone(),
        }
    }
}

/// Which parts of the page an action changed: `(runs, schema)`, or `None` for nothing.
type Change = Option<(bool, bool)>;

impl AppState {
    fn apply(&self, action: Action) -> Change {
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
                run(&mut session);
                Some((true, true))
            }
            Action::RunExample(sql) => {
                session.draft = sql;
                run(&mut session);
                Some((true, true))
            }
            Action::HistoryPrevious => session.history_previous().then_some((false, false)),
            Action::HistoryNext => session.history_next().then_some((false, false)),
            Action::ClearResults => {
                session.clear_runs();
                Some((true, false))
            }
            Action::ResetDatabase => {
                let (mut fresh, _) = fresh_session();
                fresh.set_history(session.history().clone());
                fresh.draft = std::mem::take(&mut session.draft);
                *session = fresh;
                Some((true, true))
            }
        }
    }
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        match self.apply(action) {
            Some((runs, schema)) => Rc::new(self.bumped(runs, schema)),
            None => self,
        }
    }
}

/// Runs the draft. The draft and the history are saved first, so a crash of the engine
/// during the run loses nothing the user wrote.
fn run(session: &mut ConsoleSession) {
    browser::save_draft(&session.draft);
    let mut entries = session.history().entries().to_vec();
    entries.push(session.draft.trim().to_owned());
    browser::save_history(&entries);
    browser::mark_run_started(&session.draft);
    session.run_draft(browser::now_ms);
    browser::mark_run_finished();
    browser::save_history(session.history().entries());
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
