//! Module workers on the engine's WebAssembly (`src/bin/dataflow-lab-worker.rs`), for the live
//! run ([`crate::ui::run_worker`]), for jobs ([`crate::ui::worker`]) and for the SQL console
//! ([`crate::ui::console_worker`]): the page's own module carries no SQL engine.
//!
//! A worker's script is a small module (a `Blob`) that imports the engine's wasm-bindgen glue,
//! which Trunk puts next to the page's ([`ENGINE_GLUE`]), loads the engine's module and calls
//! one of its exported entry points with the page's first message (written into the script,
//! so that it cannot come late) and those that came while it loaded; from then on the entry
//! point's own handler takes them. A failure there (the module does not load, the entry point
//! throws) is posted back as `{ failed }`, which [`failure`] reads. The worker's own news are
//! JSON text ([`post_json`]).

use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The entry point that serves the live run (`run_worker_main`).
pub const RUN_ENTRY: &str = "run_worker_main";

/// The entry point that runs a job (`worker_main`).
pub const JOB_ENTRY: &str = "worker_main";

/// The entry point that serves the SQL console's database (`console_worker_main`).
pub const CONSOLE_ENTRY: &str = "console_worker_main";

/// The engine's glue and module, as Trunk names them (a worker's files are not hashed: they
/// are asked for by name, with the page's build as their version).
pub const ENGINE_GLUE: &str = "dataflow-lab-worker.js";

/// The engine's module, next to its glue.
const ENGINE_WASM: &str = "dataflow-lab-worker_bg.wasm";

/// The URLs of the engine's glue and module: next to the page's own glue (the module script
/// Trunk preloads), with the page's build as their version, so that a browser's cache never
/// pairs this page with another build's engine.
fn engine_urls() -> Result<(String, String), String> {
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
    let page =
        web_sys::Url::new_with_base(&href, &base).map_err(|_| format!("{href} is not a URL"))?;
    // The page's glue is named after its build (`dataflow-lab-web-<hash>.js`).
    let build = page
        .pathname()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".js")
        .to_owned();
    let next_to_page = |name: &str| {
        web_sys::Url::new_with_base(name, &page.href())
            .map(|url| {
                url.search_params().set("build", &build);
                url.href()
            })
            .map_err(|_| format!("{name} is not a URL"))
    };
    Ok((next_to_page(ENGINE_GLUE)?, next_to_page(ENGINE_WASM)?))
}

/// The worker's script: load the engine, keep its memory where the benchmark page finds it
/// (`self.dataflowLabMemory`), then call `entry` with `first` and the messages that came
/// while it loaded.
fn script(glue: &str, wasm: &str, entry: &str, first: Option<&str>) -> String {
    let quoted = |text: &str| serde_json::to_string(text).unwrap_or_default();
    let early = first.map_or_else(|| "[]".to_owned(), |first| format!("[{}]", quoted(first)));
    format!(
        "import * as glue from {glue};\n\
         const early = {early};\n\
         self.onmessage = (event) => early.push(event.data);\n\
         glue.default({{ module_or_path: {wasm} }})\n\
         \x20 .then((engine) => {{\n\
         \x20   self.dataflowLabMemory = engine.memory;\n\
         \x20   glue.{entry}(early);\n\
         \x20 }})\n\
         \x20 .catch((error) => self.postMessage({{ failed: String(error) }}));\n",
        glue = quoted(glue),
        wasm = quoted(wasm),
    )
}

/// Starts a module worker on the engine that calls `entry` ([`RUN_ENTRY`], [`JOB_ENTRY`],
/// [`CONSOLE_ENTRY`]) once it has loaded, with `first` (if any) and what the page posted
/// meanwhile. The caller sets its handlers, and should do so before its next await: the worker
/// cannot answer sooner.
pub fn spawn(entry: &str, first: Option<&str>) -> Result<web_sys::Worker, String> {
    let (glue, wasm) = engine_urls()?;
    let parts = js_sys::Array::of1(&JsValue::from_str(&script(&glue, &wasm, entry, first)));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
        .map_err(|_| "no Blob")?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| "no object URL")?;
    let worker_options = web_sys::WorkerOptions::new();
    worker_options.set_type(web_sys::WorkerType::Module);
    let worker = web_sys::Worker::new_with_options(&url, &worker_options);
    let _ = web_sys::Url::revoke_object_url(&url);
    worker.map_err(|_| "the browser refused a module worker".to_owned())
}

/// A worker's handlers, set by [`listen`]: kept as long as the worker is heard.
pub struct Listening {
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

/// Hears `worker`: `news` gets each JSON text it posts, `lost` why it stopped — its script's
/// `{ failed }` (the module did not load, the entry point threw) or its `error` event.
pub fn listen(
    worker: &web_sys::Worker,
    news: impl Fn(String) + 'static,
    lost: impl Fn(String) + 'static,
) -> Listening {
    let lost = std::rc::Rc::new(lost);
    let on_message = {
        let lost = std::rc::Rc::clone(&lost);
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let data = event.data();
            match data.as_string() {
                Some(text) => news(text),
                None => lost(failure(&data)),
            }
        })
    };
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        event.prevent_default();
        lost(error_text(&event));
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Listening {
        _on_message: on_message,
        _on_error: on_error,
    }
}

/// Why a worker stopped, from a message of its that is not JSON text (its script's
/// `{ failed }`).
fn failure(data: &JsValue) -> String {
    js_sys::Reflect::get(data, &"failed".into())
        .ok()
        .and_then(|f| f.as_string())
        .unwrap_or_else(|| "the worker stopped".to_owned())
}

/// Why a worker stopped, from its `error` event: a script that does not load fires a plain
/// one, an uncaught error an `ErrorEvent` with its message.
fn error_text(event: &web_sys::Event) -> String {
    event
        .dyn_ref::<web_sys::ErrorEvent>()
        .map(web_sys::ErrorEvent::message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "its script did not load".to_owned())
}

/// In a worker: from now on a panic of the engine posts what `failed` makes of its message
/// and the statement the engine was running, if any (WebAssembly cannot go on after it: the
/// page lets the worker go).
pub fn report_panics<T: Serialize + 'static>(failed: fn(String, Option<String>) -> T) {
    std::panic::set_hook(Box::new(move |info| {
        post_json(&failed(
            crate::ui::browser::panic_message(info),
            crate::sim::database::statement_in_flight(),
        ));
    }));
}

/// In a worker: hands `receive` the messages in `early` (those that came while the module
/// loaded), then each one as it comes, for the worker's life.
pub fn take_messages(early: &js_sys::Array, receive: fn(&JsValue)) {
    for message in early.iter() {
        receive(&message);
    }
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            receive(&event.data())
        });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The worker lives as long as its page: so does its handler.
    on_message.forget();
}

/// In a worker: posts `news` to the page as JSON text.
pub fn post_json(news: &impl Serialize) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    if let Ok(text) = serde_json::to_string(news) {
        let _ = scope.post_message(&JsValue::from_str(&text));
    }
}
