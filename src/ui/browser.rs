//! The few things the page needs from the browser: a clock for timing statements, the
//! browser's storage for keeping what the user wrote, the mount point and the panic banner.
//!
//! Every call degrades quietly when the browser refuses (storage disabled, no `performance`):
//! the console still works, it only forgets more or times less precisely.

use wasm_bindgen::{JsCast, UnwrapThrowExt};
use web_sys::{Element, Storage};

const DRAFT_KEY: &str = "dataflow-lab.console.draft";
const HISTORY_KEY: &str = "dataflow-lab.console.history";
const PENDING_RUN_KEY: &str = "dataflow-lab.console.pending-run";
/// Separates history entries in storage (ASCII record separator: never typed in SQL).
const RECORD_SEPARATOR: char = '\u{1e}';

/// Milliseconds from the browser's monotonic clock (`performance.now()`).
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

fn local_storage() -> Option<Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The editor text saved by [`save_draft`], if any.
pub fn load_draft() -> Option<String> {
    local_storage()?.get_item(DRAFT_KEY).ok()?
}

/// Keeps the editor text across reloads (and across a crash of the engine).
pub fn save_draft(draft: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(DRAFT_KEY, draft);
    }
}

/// The console history saved by [`save_history`], oldest first.
pub fn load_history() -> Vec<String> {
    local_storage()
        .and_then(|s| s.get_item(HISTORY_KEY).ok().flatten())
        .map(|text| {
            text.split(RECORD_SEPARATOR)
                .filter(|entry| !entry.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Keeps the console history across reloads.
pub fn save_history(entries: &[String]) {
    if let Some(storage) = local_storage() {
        let text = entries.join(&RECORD_SEPARATOR.to_string());
        let _ = storage.set_item(HISTORY_KEY, &text);
    }
}

/// Notes that `script` is about to run. If the engine panics during the run, the note is still
/// there at the next load, and [`take_pending_run`] tells the page which script stopped it.
pub fn mark_run_started(script: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(PENDING_RUN_KEY, script);
    }
}

/// Notes that the run marked by [`mark_run_started`] finished.
pub fn mark_run_finished() {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(PENDING_RUN_KEY);
    }
}

/// The script of the run in progress, if any (left in place).
fn pending_run() -> Option<String> {
    local_storage()?.get_item(PENDING_RUN_KEY).ok()?
}

/// The script of a run that never finished (the engine stopped during it), once.
pub fn take_pending_run() -> Option<String> {
    let storage = local_storage()?;
    let script = storage.get_item(PENDING_RUN_KEY).ok()??;
    let _ = storage.remove_item(PENDING_RUN_KEY);
    Some(script)
}

/// The element the app mounts on (`#app`), emptied of its loading placeholder; the body if
/// the page has no `#app`.
pub fn app_root() -> Element {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .expect_throw("the page has no document");
    match document.get_element_by_id("app") {
        Some(root) => {
            root.set_inner_html("");
            root
        }
        None => document
            .body()
            .map(|b| b.unchecked_into())
            .expect_throw("the page has no body"),
    }
}

/// Makes a panic visible: logs it, shows the `#fatal` banner of `index.html` with the panic's
/// message and marks the page as stopped. WebAssembly cannot continue after a panic, so the
/// banner offers a reload; the editor text and the history are already in storage.
pub fn install_panic_banner() {
    yew::set_custom_panic_hook(Box::new(|info| {
        let message = info.to_string();
        web_sys::console::error_1(&format!("Dataflow Lab stopped: {message}").into());
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        if let Some(detail) = document.get_element_by_id("fatal-detail") {
            detail.set_text_content(Some(&message));
        }
        if let (Some(sql), Some(element)) = (pending_run(), document.get_element_by_id("fatal-sql"))
        {
            element.set_text_content(Some(sql.trim()));
            if let Some(block) = document.get_element_by_id("fatal-sql-block") {
                let _ = block.remove_attribute("hidden");
            }
        }
        if let Some(banner) = document.get_element_by_id("fatal") {
            let _ = banner.remove_attribute("hidden");
        }
        if let Some(body) = document.body() {
            let _ = body.class_list().add_1("crashed");
        }
        if let Some(button) = document
            .get_element_by_id("fatal-reload")
            .and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = button.focus();
        }
    }));
}
