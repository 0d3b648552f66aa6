//! The live run in a Web Worker: the page's WebAssembly instantiated again off the main thread
//! serves the run ([`crate::sim::run_server`]), so that the world's work — a 20,000-row
//! report, a join — never holds one of the page's frames.
//!
//! One worker for the page's life. The page posts [`ToRun`] messages as JSON (start a run, ask
//! it, move it) and hears [`FromRun`] news: answers, and while the run moves a frame a tick with
//! what it shows every 100 ms. The worker's loop ticks the run every [`TICK_EVERY_MS`] while it
//! moves, within [`crate::sim::run_server::TICK_BUDGET_MS`].
//!
//! The page runs its world in the worker unless its link says `worker=0`, or no module worker
//! starts (the run then stays on the page). A worker that fails (a panic of the engine) is
//! replaced once the run comes back without its culprit; one that fails before it served
//! anything, or fails again and again, leaves the run on the page.
//!
//! This is the page's side; the worker's is [`serving`].

mod serving;

pub use serving::serve;

use crate::sim::clock::Micros;
use crate::sim::live_run::{Motion, Viewer};
use crate::sim::run_server::{FromRun, ToRun};
use crate::ui::{browser, module_worker};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// How many failed workers are replaced before the run stays on the page.
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
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

thread_local! {
    /// The page's worker, once started (`None` inside: it could not start).
    static CLIENT: RefCell<Option<Option<Rc<Client>>>> = const { RefCell::new(None) };
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

/// Whether the page runs its world in a worker: unless its link says `worker=0`.
pub fn wanted() -> bool {
    browser::query_param("worker").is_none_or(|v| v != "0")
}

/// The page's worker, started on first use; `None` where none starts (the run then stays on
/// the page).
fn client() -> Option<Rc<Client>> {
    CLIENT.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| match spawn() {
                Ok(client) => Some(client),
                Err(why) => {
                    web_sys::console::warn_1(
                        &format!(
                            "Dataflow Lab: no worker for the run ({why}); it runs on the page"
                        )
                        .into(),
                    );
                    None
                }
            })
            .clone()
    })
}

/// Starts a run in the worker: its number, or `None` where no worker runs (the page then keeps
/// the run).
pub fn start(scenario: &crate::sim::scenario::Scenario, seed: u64) -> Option<u32> {
    let client = client()?;
    if client.failed.borrow().is_some() {
        return None;
    }
    let run = RUNS.with(|r| r.get().wrapping_add(1));
    RUNS.with(|r| r.set(run));
    client.post(&ToRun::Start {
        run,
        scenario: Box::new(scenario.clone()),
        seed,
    });
    Some(run)
}

/// Sends run `run` a message made with a new request number (for [`ToRun::Ask`]).
pub fn ask(make: impl FnOnce(u32) -> ToRun) {
    if let Some(client) = CLIENT.with(|c| c.borrow().clone().flatten()) {
        let id = client.request.get().wrapping_add(1);
        client.request.set(id);
        client.post(&make(id));
    }
}

/// Tells run `run` how it moves now, unless that is what it was last told; `at`: where the
/// page's clock stands (a run told to stop goes back there).
pub fn send_move(run: u32, motion: Motion, viewer: &Viewer, at: Option<Micros>) {
    let Some(client) = CLIENT.with(|c| c.borrow().clone().flatten()) else {
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
    let again = client.served.get() && FAILURES.with(|f| f.replace(f.get() + 1)) < MAX_FAILURES;
    CLIENT.with(|c| *c.borrow_mut() = (!again).then_some(None));
    hear(FromRun::Failed { why, statement });
}

impl Client {
    fn post(&self, message: &ToRun) {
        if let Ok(text) = serde_json::to_string(message) {
            let _ = self.worker.post_message(&JsValue::from_str(&text));
        }
    }
}

fn spawn() -> Result<Rc<Client>, String> {
    let worker = module_worker::spawn(module_worker::RUN_ENTRY, None)?;
    let client = Rc::new_cyclic(|this: &std::rc::Weak<Client>| {
        let on_message = {
            let this = this.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let Some(client) = this.upgrade() else {
                    return;
                };
                let data = event.data();
                let Some(text) = data.as_string() else {
                    lost(&client, module_worker::failure(&data), None);
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
            })
        };
        let on_error = {
            let this = this.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                event.prevent_default();
                if let Some(client) = this.upgrade() {
                    lost(&client, module_worker::error_text(&event), None);
                }
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Client {
            worker: worker.clone(),
            request: Cell::new(0),
            failed: RefCell::new(None),
            last_move: RefCell::new(None),
            served: Cell::new(false),
            _on_message: on_message,
            _on_error: on_error,
        }
    });
    Ok(client)
}
