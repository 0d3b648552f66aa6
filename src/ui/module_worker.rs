//! Module workers on the page's own WebAssembly, for the live run ([`crate::ui::run_worker`]),
//! for jobs ([`crate::ui::worker`]) and for the SQL console ([`crate::ui::console_worker`]): the page's module instantiated a second time off the
//! main thread.
//!
//! A worker's script is a small module (a `Blob`) that imports the page's wasm-bindgen glue —
//! the script Trunk preloads — and waits for the page's first message, the module the page has
//! already compiled ([`wasm_bindgen::module`]). It instantiates it and calls one of the
//! module's exported entry points (`main.rs`) with the messages that came meanwhile; from then
//! on the entry point's own handler takes them. A failure there (the module does not load, the
//! entry point throws) is posted back as `{ failed }`, which [`failure`] reads. The worker's
//! own news are JSON text ([`post_json`]).

use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The entry point that serves the live run (`run_worker_main` in `main.rs`).
pub const RUN_ENTRY: &str = "run_worker_main";

/// The entry point that runs a job (`worker_main` in `main.rs`).
pub const JOB_ENTRY: &str = "worker_main";

/// The entry point that serves the SQL console's database (`console_worker_main` in `main.rs`).
pub const CONSOLE_ENTRY: &str = "console_worker_main";

/// The URL of the page's wasm-bindgen glue: the module script Trunk preloads.
fn glue_url() -> Result<String, String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let href = document
        .query_selector("link[rel=modulepreload][href$='.js']")
        .ok()
        .flatten()
        .and_then(|link| link.get_attribute("href"))
        .ok_or("the page preloads no script")?;
    let base = document
        .base_uri()
        .ok()
        .flatten()
        .ok_or("the page has no base URL")?;
    web_sys::Url::new_with_base(&href, &base)
        .map(|url| url.href())
        .map_err(|_| format!("{href} is not a URL"))
}

/// The worker's script: instantiate the module the page sends first, keep its memory where the
/// benchmark page finds it (`self.dataflowLabMemory`), then call `entry` with the message sent
/// with the module and those that came while it loaded (which may come after it has loaded:
/// an entry point that needs one gets it as `first`).
fn script(glue: &str, entry: &str) -> String {
    let glue = serde_json::to_string(glue).unwrap_or_default();
    format!(
        "import * as glue from {glue};\n\
         const early = [];\n\
         self.onmessage = async (event) => {{\n\
         \x20 self.onmessage = (later) => early.push(later.data);\n\
         \x20 if (event.data.first !== undefined) early.push(event.data.first);\n\
         \x20 try {{\n\
         \x20   const wasm = await glue.default({{ module_or_path: event.data.module }});\n\
         \x20   self.dataflowLabMemory = wasm.memory;\n\
         \x20   glue.{entry}(early);\n\
         \x20 }} catch (error) {{\n\
         \x20   self.postMessage({{ failed: String(error) }});\n\
         \x20 }}\n\
         }};\n"
    )
}

/// Starts a module worker on the page's module that calls `entry` ([`RUN_ENTRY`],
/// [`JOB_ENTRY`], [`CONSOLE_ENTRY`]) once it has loaded, with `first` (if any) and what the page posted meanwhile.
/// The caller sets its handlers, and should do so before its next await: the worker cannot
/// answer sooner.
pub fn spawn(entry: &str, first: Option<&str>) -> Result<web_sys::Worker, String> {
    let glue = glue_url()?;
    let parts = js_sys::Array::of1(&JsValue::from_str(&script(&glue, entry)));
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
    let message = js_sys::Object::new();
    js_sys::Reflect::set(&message, &"module".into(), &wasm_bindgen::module())
        .map_err(|_| "no module")?;
    if let Some(first) = first {
        js_sys::Reflect::set(&message, &"first".into(), &JsValue::from_str(first))
            .map_err(|_| "no message")?;
    }
    worker
        .post_message(&message)
        .map_err(|_| "the module could not be sent to the worker")?;
    Ok(worker)
}

/// Why a worker stopped, from a message of its that is not JSON text (its script's
/// `{ failed }`).
pub fn failure(data: &JsValue) -> String {
    js_sys::Reflect::get(data, &"failed".into())
        .ok()
        .and_then(|f| f.as_string())
        .unwrap_or_else(|| "the worker stopped".to_owned())
}

/// Why a worker stopped, from its `error` event: a script that does not load fires a plain
/// one, an uncaught error an `ErrorEvent` with its message.
pub fn error_text(event: &web_sys::Event) -> String {
    event
        .dyn_ref::<web_sys::ErrorEvent>()
        .map(web_sys::ErrorEvent::message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "its script did not load".to_owned())
}

/// In a worker: posts `news` to the page as JSON text.
pub fn post_json(news: &impl Serialize) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    if let Ok(text) = serde_json::to_string(news) {
        let _ = scope.post_message(&JsValue::from_str(&text));
    }
}
