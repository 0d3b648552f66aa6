//! The SQL console's database in a Web Worker: the engine's module, instantiated off the main
//! thread, serves the console's shop ([`crate::sim::console_server`]); the page keeps the
//! editor, the history and the results ([`crate::sim::console::ConsoleSession`]).
//!
//! One worker for the console page. The page posts [`ToConsole`] messages as JSON (run a
//! script, load the shop afresh) and hears [`FromConsole`] news: the database is ready, a script
//! ran, the worker stopped. A worker that stops (a panic of GlueSQL takes only the worker) is
//! said so as [`FromConsole::Failed`]; the next message starts a new one, on a fresh shop.
//!
//! This is the page's side; the worker's is [`serving`].

mod serving;

pub use serving::serve;

use crate::sim::console_server::{FromConsole, ToConsole};
use crate::ui::module_worker;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// Where the worker's news go: the console page, once it listens.
type Listener = Rc<dyn Fn(FromConsole)>;

/// A started worker and its handlers.
struct Spawned {
    worker: web_sys::Worker,
    _listening: module_worker::Listening,
}

/// The console page's side of its worker.
#[derive(Default)]
pub struct ConsoleClient {
    worker: RefCell<Option<Spawned>>,
    listener: RefCell<Option<Listener>>,
    /// News that came before the page listened.
    early: RefCell<Vec<FromConsole>>,
    /// Whether a worker has ever answered (one that fails before that is not tried again).
    served: Cell<bool>,
    /// The number of the last run asked for.
    runs: Cell<u32>,
}

impl PartialEq for ConsoleClient {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl ConsoleClient {
    /// A client with its worker started: its first news is [`FromConsole::Ready`].
    pub fn start() -> Rc<Self> {
        let client = Rc::new(Self::default());
        client.spawn();
        client
    }

    /// Hands the worker's news to `listener` from now on (those that came before first).
    pub fn listen(&self, listener: impl Fn(FromConsole) + 'static) {
        let listener: Listener = Rc::new(listener);
        *self.listener.borrow_mut() = Some(Rc::clone(&listener));
        let early: Vec<FromConsole> = self.early.borrow_mut().drain(..).collect();
        for news in early {
            listener(news);
        }
    }

    /// Whether a worker has ever answered: one that stops after that is replaced by the next
    /// message.
    pub fn has_served(&self) -> bool {
        self.served.get()
    }

    /// Asks the database to run `script`; the answer is [`FromConsole::Ran`] with the number
    /// returned.
    pub fn run(self: &Rc<Self>, script: String) -> u32 {
        let id = self.runs.get().wrapping_add(1);
        self.runs.set(id);
        self.post(&ToConsole::Run { id, script });
        id
    }

    /// Asks for a fresh shop: answered by [`FromConsole::Ready`] (a stopped worker is replaced,
    /// which starts on a fresh shop anyway).
    pub fn reset(self: &Rc<Self>) {
        if self.worker.borrow().is_some() {
            self.post(&ToConsole::Reset);
        } else {
            self.spawn();
        }
    }

    fn post(self: &Rc<Self>, message: &ToConsole) {
        if self.worker.borrow().is_none() {
            self.spawn();
        }
        let text = serde_json::to_string(message).unwrap_or_default();
        if let Some(spawned) = self.worker.borrow().as_ref() {
            let _ = spawned.worker.post_message(&JsValue::from_str(&text));
        }
    }

    fn hear(&self, news: FromConsole) {
        let listener = self.listener.borrow().clone();
        match listener {
            Some(listener) => listener(news),
            None => self.early.borrow_mut().push(news),
        }
    }

    /// The worker stopped: it is let go, and the page hears why.
    fn lost(&self, why: String, statement: Option<String>) {
        if let Some(spawned) = self.worker.borrow_mut().take() {
            spawned.worker.set_onmessage(None);
            spawned.worker.set_onerror(None);
            spawned.worker.terminate();
        }
        self.hear(FromConsole::Failed { why, statement });
    }

    fn spawn(self: &Rc<Self>) {
        let worker = match module_worker::spawn(module_worker::CONSOLE_ENTRY, None) {
            Ok(worker) => worker,
            Err(why) => {
                // Heard on a later task: the caller may be in the middle of an action.
                let this = Rc::clone(self);
                wasm_bindgen_futures::spawn_local(async move {
                    this.hear(FromConsole::Failed {
                        why: format!("no worker started ({why})"),
                        statement: None,
                    });
                });
                return;
            }
        };
        let this: Weak<Self> = Rc::downgrade(self);
        let news = {
            let this = this.clone();
            move |text: String| {
                let Some(client) = this.upgrade() else {
                    return;
                };
                match serde_json::from_str::<FromConsole>(&text) {
                    Ok(FromConsole::Failed { why, statement }) => client.lost(why, statement),
                    Ok(news) => {
                        client.served.set(true);
                        client.hear(news);
                    }
                    Err(error) => client.lost(format!("unreadable news: {error}"), None),
                }
            }
        };
        let lost = move |why: String| {
            if let Some(client) = this.upgrade() {
                client.lost(why, None);
            }
        };
        let listening = module_worker::listen(&worker, news, lost);
        *self.worker.borrow_mut() = Some(Spawned {
            worker,
            _listening: listening,
        });
    }
}

impl Drop for ConsoleClient {
    fn drop(&mut self) {
        if let Some(spawned) = self.worker.get_mut().take() {
            spawned.worker.terminate();
        }
    }
}
