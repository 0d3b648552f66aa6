//! The worker's side of the SQL console: it serves the console's shop ([`ConsoleServer`]) with
//! the page's messages, posting each answer.

use crate::sim::console_server::{ConsoleServer, FromConsole, ToConsole};
use crate::ui::{browser, module_worker};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;

thread_local! {
    /// The console's database.
    static SERVER: RefCell<Option<ConsoleServer>> = const { RefCell::new(None) };
}

/// In the worker: seeds the shop and says it is ready, then takes the messages in `early`
/// (those that came while the module loaded) and each one as it comes.
pub fn serve(early: &js_sys::Array) {
    module_worker::report_panics(|why, statement| FromConsole::Failed { why, statement });
    let (server, ready) = ConsoleServer::start();
    module_worker::post_json(&ready);
    SERVER.with(|s| *s.borrow_mut() = Some(server));
    module_worker::take_messages(early, receive);
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
