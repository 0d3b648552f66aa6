//! The worker's side of the live run: it serves the run ([`RunServer`]) with the page's
//! messages and ticks it every [`TICK_EVERY_MS`] while it moves, posting its news.

use crate::sim::run_server::{FromRun, RunServer, ToRun, TICK_EVERY_MS};
use crate::ui::{browser, module_worker};
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

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
    module_worker::report_panics(|why, statement| FromRun::Failed { why, statement });
    TICK.with(|t| *t.borrow_mut() = Some(Closure::<dyn FnMut()>::new(tick)));
    module_worker::take_messages(early, receive);
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
    module_worker::post_json(news);
}
