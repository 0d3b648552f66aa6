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

use crate::sim::clock::Micros;
use crate::sim::live_run::{Motion, Viewer};
use crate::sim::run_server::{FromRun, RunServer, ToRun, TICK_EVERY_MS};
use crate::ui::browser;
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
pub fn send_move(run: u32, motion: Motion, viewer: &Viewer, at: Micros) {
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
        at: Some(at),
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

/// Runs from now on stay on the page (the worker refused one the page built).
pub fn stay_on_page() {
    CLIENT.with(|c| *c.borrow_mut() = Some(None));
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

/// The worker's script: instantiate the page's module, then serve the run, with the messages
/// that came while it loaded. A failure there is posted as `{ failed }`.
fn script(glue: &str) -> String {
    let glue = serde_json::to_string(glue).unwrap_or_default();
    format!(
        "import init, {{ run_worker_main }} from {glue};\n\
         const early = [];\n\
         self.onmessage = async (event) => {{\n\
         \x20 self.onmessage = (later) => early.push(later.data);\n\
         \x20 try {{\n\
         \x20   await init({{ module_or_path: event.data.module }});\n\
         \x20   run_worker_main(early);\n\
         \x20 }} catch (error) {{\n\
         \x20   self.postMessage({{ failed: String(error) }});\n\
         \x20 }}\n\
         }};\n"
    )
}

fn spawn() -> Result<Rc<Client>, String> {
    let glue = crate::ui::worker::glue_url()?;
    let parts = js_sys::Array::of1(&JsValue::from_str(&script(&glue)));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .map_err(|_| "no Blob")?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| "no object URL")?;
    let worker_options = web_sys::WorkerOptions::new();
    worker_options.set_type(web_sys::WorkerType::Module);
    let worker = web_sys::Worker::new_with_options(&url, &worker_options);
    let _ = web_sys::Url::revoke_object_url(&url);
    let worker = worker.map_err(|_| "the browser refused a module worker")?;
    let client = Rc::new_cyclic(|this: &std::rc::Weak<Client>| {
        let on_message = {
            let this = this.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let Some(client) = this.upgrade() else {
                    return;
                };
                let data = event.data();
                let Some(text) = data.as_string() else {
                    let failed = js_sys::Reflect::get(&data, &"failed".into())
                        .ok()
                        .and_then(|f| f.as_string())
                        .unwrap_or_else(|| "the worker stopped".to_owned());
                    lost(&client, failed, None);
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
                let why = event
                    .dyn_ref::<web_sys::ErrorEvent>()
                    .map(web_sys::ErrorEvent::message)
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "its script did not load".to_owned());
                if let Some(client) = this.upgrade() {
                    lost(&client, why, None);
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
    let message = js_sys::Object::new();
    js_sys::Reflect::set(&message, &"module".into(), &wasm_bindgen::module())
        .map_err(|_| "no module")?;
    worker
        .post_message(&message)
        .map_err(|_| "the module could not be sent to the worker")?;
    Ok(client)
}

thread_local! {
    /// The run the worker serves.
    static SERVER: RefCell<RunServer> = RefCell::new(RunServer::new());
    /// Whether the worker's next tick is already scheduled.
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
    /// The worker's tick, for `setTimeout`.
    static TICK: RefCell<Option<Closure<dyn FnMut()>>> = const { RefCell::new(None) };
}

/// In the worker: serves the run, taking the messages in `early` (those that came while the
/// module loaded) and then each one as it comes.
pub fn serve(early: &js_sys::Array) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    std::panic::set_hook(Box::new(|info| {
        post(&FromRun::Failed {
            why: browser::panic_message(info),
            statement: crate::sim::database::statement_in_flight(),
        });
    }));
    TICK.with(|t| *t.borrow_mut() = Some(Closure::<dyn FnMut()>::new(tick)));
    for message in early.iter() {
        receive(&message);
    }
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            receive(&event.data())
        });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The worker lives as long as the page: so does its handler.
    on_message.forget();
}

fn receive(data: &JsValue) {
    let Some(text) = data.as_string() else {
        return;
    };
    let message: ToRun = match serde_json::from_str(&text) {
        Ok(message) => message,
        Err(error) => {
            web_sys::console::warn_1(
                &format!("Dataflow Lab: the run's worker cannot read a message: {error}").into(),
            );
            return;
        }
    };
    let news = SERVER.with(|s| s.borrow_mut().receive(message, browser::now_ms));
    for news in news {
        post(&news);
    }
    schedule(0.0);
}

/// Ticks the run in `delay_ms`, if it moves and no tick is scheduled yet.
fn schedule(delay_ms: f64) {
    if SCHEDULED.with(Cell::get) || !SERVER.with(|s| s.borrow().moving()) {
        return;
    }
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    TICK.with(|t| {
        if let Some(tick) = t.borrow().as_ref() {
            let scheduled = scope.set_timeout_with_callback_and_timeout_and_arguments_0(
                tick.as_ref().unchecked_ref(),
                delay_ms.max(0.0) as i32,
            );
            SCHEDULED.with(|s| s.set(scheduled.is_ok()));
        }
    });
}

fn tick() {
    SCHEDULED.with(|s| s.set(false));
    let at = browser::now_ms();
    let frame = SERVER.with(|s| s.borrow_mut().tick(at, browser::now_ms));
    if let Some(frame) = frame {
        post(&frame);
    }
    schedule(TICK_EVERY_MS - (browser::now_ms() - at));
}

fn post(news: &FromRun) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    if let Ok(text) = serde_json::to_string(news) {
        let _ = scope.post_message(&JsValue::from_str(&text));
    }
}
