//! The live run in a Web Worker: the page's WebAssembly instantiated again off the main thread
//! serves the run ([`crate::sim::run_server`]), so that the world's work — a 20,000-row
//! report, a join — never holds one of the page's frames.
//!
//! One worker for the page's life. The page posts [`ToRun`] messages as JSON (start a run, ask
//! it, move it) and hears [`FromRun`] news: answers, and while the run moves a frame a tick with
//! what it shows every 100 ms. The worker's loop ticks the run every [`TICK_EVERY_MS`] while it
//! moves, within [`crate::sim::run_server::TICK_BUDGET_MS`].
//!
//! The page's world runs only there: the page holds no engine. A worker that fails (a panic of
//! the engine) is replaced once the run comes back without its culprit; where none starts, or
//! one fails before it served anything, or fails again and again, the run cannot start and the
//! page says why.
//!
//! This is the page's side; the worker's is [`serving`].

mod serving;

pub use serving::serve;

use crate::sim::clock::Micros;
use crate::sim::live_run::{Motion, Viewer};
use crate::sim::run_server::{FromRun, ToRun};
use crate::ui::module_worker;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// How many failed workers are replaced before the page gives up.
const MAX_FAILURES: u32 = 3;

/// News of the run, for the page's actions (equal when they are the same news).
#[derive(Debug, Clone)]
pub struct News(pub Rc<FromRun>);

impl PartialEq for News {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Where the page's news go: to the live state, once the page listens.
type Listener = Rc<dyn Fn(FromRun)>;

/// The page's side of the worker.
struct Client {
    worker: web_sys::Worker,
    /// The number of the last request.
    request: Cell<u32>,
    /// Why the worker stopped, if it did.
    failed: RefCell<Option<String>>,
    /// Whether it has served anything (a worker that fails before that is not tried again).
    served: Cell<bool>,
    /// What the run was last told of how it moves.
    last_move: RefCell<Option<(u32, Motion, Viewer)>>,
    _listening: module_worker::Listening,
}

thread_local! {
    /// The page's worker, once started (or why none runs).
    static CLIENT: RefCell<Option<Result<Rc<Client>, String>>> = const { RefCell::new(None) };
    /// The page's listener, once it listens.
    static LISTENER: RefCell<Option<Listener>> = const { RefCell::new(None) };
    /// News arrived before the page listened.
    static EARLY: RefCell<Vec<FromRun>> = const { RefCell::new(Vec::new()) };
    /// How many workers have failed.
    static FAILURES: Cell<u32> = const { Cell::new(0) };
    /// The number of the last run started, in any worker (a new worker after a crash goes on
    /// counting: the page tells its runs apart by it).
    static RUNS: Cell<u32> = const { Cell::new(0) };
}

/// The page's worker, started on first use, or why none runs.
fn client() -> Result<Rc<Client>, String> {
    let client = CLIENT.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| {
                spawn().map_err(|why| format!("this browser started no worker for it ({why})"))
            })
            .clone()
    })?;
    let failed = client.failed.borrow().clone();
    match failed {
        Some(why) => Err(why),
        None => Ok(client),
    }
}

/// The worker's client while it runs (`None` once it failed, or where none started).
fn running() -> Option<Rc<Client>> {
    CLIENT.with(|c| c.borrow().clone().and_then(Result::ok))
}

/// Starts a run in the worker: its number, or why it cannot start.
pub fn start(scenario: &crate::sim::scenario::Scenario, seed: u64) -> Result<u32, String> {
    let client = client()?;
    let run = RUNS.with(|r| r.get().wrapping_add(1));
    RUNS.with(|r| r.set(run));
    client.post(&ToRun::Start {
        run,
        scenario: Box::new(scenario.clone()),
        seed,
    });
    Ok(run)
}

/// Sends run `run` a message made with a new request number (for [`ToRun::Ask`]).
pub fn ask(make: impl FnOnce(u32) -> ToRun) {
    if let Some(client) = running() {
        client.post(&make(client.next_request()));
    }
}

/// Asks the worker whether `scenario` builds with `seed` ([`ToRun::Check`]): the number of the
/// question, answered by [`FromRun::Checked`]; `None` where no worker runs.
pub fn check(scenario: &crate::sim::scenario::Scenario, seed: u64) -> Option<u32> {
    let client = running()?;
    let id = client.next_request();
    client.post(&ToRun::Check {
        id,
        scenario: Box::new(scenario.clone()),
        seed,
    });
    Some(id)
}

/// Tells run `run` how it moves now, unless that is what it was last told; `at`: where the
/// page's clock stands (a run told to stop goes back there).
pub fn send_move(run: u32, motion: Motion, viewer: &Viewer, at: Option<Micros>) {
    let Some(client) = running() else {
        return;
    };
    let told = (run, motion, viewer.clone());
    if client.last_move.borrow().as_ref() == Some(&told) {
        return;
    }
    client.post(&ToRun::Move {
        run,
        motion,
        viewer: viewer.clone(),
        at,
    });
    *client.last_move.borrow_mut() = Some(told);
}

/// Hands the worker's news to `listener` from now on (those that came before first).
pub fn listen(listener: impl Fn(FromRun) + 'static) {
    let listener: Listener = Rc::new(listener);
    LISTENER.with(|l| *l.borrow_mut() = Some(Rc::clone(&listener)));
    let early: Vec<FromRun> = EARLY.with(|e| e.borrow_mut().drain(..).collect());
    for news in early {
        listener(news);
    }
}

/// Hands `news` to the page, or keeps it until the page listens.
fn hear(news: FromRun) {
    match LISTENER.with(|l| l.borrow().clone()) {
        Some(listener) => listener(news),
        None => EARLY.with(|e| e.borrow_mut().push(news)),
    }
}

/// The worker is gone (a panic, a module that did not load): it is stopped, and the next run
/// starts a new one.
fn lost(client: &Client, why: String, statement: Option<String>) {
    if client.failed.replace(Some(why.clone())).is_some() {
        return;
    }
    client.worker.set_onmessage(None);
    client.worker.set_onerror(None);
    client.worker.terminate();
    // Replaced, for a run that comes back without its culprit; not when it never served (its
    // module does not load here), nor after a few failures in a row.
    let failures = FAILURES.with(|f| f.replace(f.get() + 1)) + 1;
    let again = client.served.get() && failures <= MAX_FAILURES;
    let gone = if !client.served.get() {
        format!("its worker did not start ({why})")
    } else {
        format!("the engine stopped {failures} times in a row (last: {why})")
    };
    CLIENT.with(|c| *c.borrow_mut() = (!again).then_some(Err(gone)));
    hear(FromRun::Failed { why, statement });
}

impl Client {
    /// A new request number.
    fn next_request(&self) -> u32 {
        let id = self.request.get().wrapping_add(1);
        self.request.set(id);
        id
    }

    fn post(&self, message: &ToRun) {
        if let Ok(text) = serde_json::to_string(message) {
            let _ = self.worker.post_message(&JsValue::from_str(&text));
        }
    }
}

fn spawn() -> Result<Rc<Client>, String> {
    let worker = module_worker::spawn(module_worker::RUN_ENTRY, None)?;
    let client = Rc::new_cyclic(|this: &std::rc::Weak<Client>| {
        let news = {
            let this = this.clone();
            move |text: String| {
                let Some(client) = this.upgrade() else {
                    return;
                };
                match serde_json::from_str::<FromRun>(&text) {
                    // A panic there: the worker is gone (its module traps next).
                    Ok(FromRun::Failed { why, statement }) => lost(&client, why, statement),
                    Ok(news) => {
                        client.served.set(true);
                        hear(news)
                    }
                    Err(error) => web_sys::console::warn_1(
                        &format!("Dataflow Lab: unreadable news from the run's worker: {error}")
                            .into(),
                    ),
                }
            }
        };
        let gone = {
            let this = this.clone();
            move |why: String| {
                if let Some(client) = this.upgrade() {
                    lost(&client, why, None);
                }
            }
        };
        let listening = module_worker::listen(&worker, news, gone);
        Client {
            worker: worker.clone(),
            request: Cell::new(0),
            failed: RefCell::new(None),
            last_move: RefCell::new(None),
            served: Cell::new(false),
            _listening: listening,
        }
    });
    Ok(client)
}
