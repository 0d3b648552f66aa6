//! The worker's side of the SQL console: it serves the console's shop ([`ConsoleServer`]) with
//! the page's messages, posting each answer.

use crate::sim::console_server::{ConsoleServer, FromConsole, ToConsole};
use crate::ui::{browser, module_worker};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    /// The console's database.
    static SERVER: RefCell<Option<ConsoleServer>> = const { RefCell::new(None) };
}

/// In the worker: seeds the shop and says it is ready, then takes the messages in `early`
/// (those that came while the module loaded) and each one as it comes.
pub fn serve(early: &js_sys::Array) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    std::panic::set_hook(Box::new(|info| {
        module_worker::post_json(&FromConsole::Failed {
            why: browser::panic_message(info),
            statement: crate::sim::database::statement_in_flight(),
        });
    }));
    let (server, ready) = ConsoleServer::start();
    module_worker::post_json(&ready);
    SERVER.with(|s| *s.borrow_mut() = Some(server));
    for message in early.iter() {
        receive(&message);
    }
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            receive(&event.data())
        });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The worker lives as long as its page: so does its handler.
    on_message.forget();
}

fn receive(data: &JsValue) {
    let Some(message) = data
        .as_string()
        .and_then(|text| serde_json::from_str::<ToConsole>(&text).ok())
    else {
        web_sys::console::warn_1(
            &"Dataflow Lab: the console's worker cannot read a message".into(),
        );
        return;
    };
    let answer = SERVER.with(|s| {
        s.borrow_mut()
            .as_mut()
            .map(|server| server.receive(message, browser::now_ms))
    });
    if let Some(answer) = answer {
        module_worker::post_json(&answer);
    }
}
