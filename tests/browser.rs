//! What only exists in the browser: the clock that times statements and the storage that keeps
//! the editor text and the history across reloads. Runs in headless Chromium
//! (`cargo test --target wasm32-unknown-unknown`); natively this file is empty.
#![cfg(target_arch = "wasm32")]

use dataflow_lab::sim::console::ConsoleDatabase;
use dataflow_lab::sim::shop::{self, DEFAULT_SEED};
use dataflow_lab::ui::browser;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// `performance.now()` is there and moves forward, so statements get real elapsed times.
#[wasm_bindgen_test]
fn the_browser_clock_times_real_statements() {
    let mut console =
        ConsoleDatabase::new(shop::shop_database("shop", DEFAULT_SEED).expect("shop"));
    let before = browser::now_ms();
    assert!(before > 0.0, "performance.now() is missing");
    let results = console.run(
        "SELECT c.country, COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.country",
        browser::now_ms,
    );
    assert!(results[0].result.is_ok());
    assert!(results[0].elapsed_ms >= 0.0);
    assert!(browser::now_ms() >= before);
}

/// The editor text and the history survive a reload (they are written to localStorage).
#[wasm_bindgen_test]
fn the_draft_and_the_history_are_kept_in_local_storage() {
    browser::save_draft("SELECT 'kept'");
    assert_eq!(browser::load_draft().as_deref(), Some("SELECT 'kept'"));
    let entries = vec![
        "SELECT 1".to_owned(),
        "SELECT 'two\nlines'".to_owned(),
        "SELECT 3".to_owned(),
    ];
    browser::save_history(&entries);
    assert_eq!(browser::load_history(), entries);
}

/// Lesson Markdown with a script, an event handler or a `javascript:` link, inserted into the
/// page as the lesson panel inserts it, is inert: no element runs, no handler is set.
#[wasm_bindgen_test]
fn lesson_markdown_with_script_or_handlers_is_inert_in_the_page() {
    use wasm_bindgen::JsCast;
    let hostile = "Predict: <script>window.__pwned = 1</script> and \
                   <img src=x onerror=\"window.__pwned = 2\"> then [go](javascript:alert(1))\n\n\
                   <iframe src=\"https://example.org\"></iframe>";
    let document = web_sys::window()
        .and_then(|w| w.document())
        .expect("a document");
    let host = document.create_element("div").expect("a div");
    host.set_inner_html(&dataflow_lab::markdown::to_safe_html(hostile));
    document
        .body()
        .expect("a body")
        .append_child(&host)
        .expect("attached");
    for selector in [
        "script",
        "img",
        "iframe",
        "[onerror]",
        "a[href^='javascript']",
    ] {
        assert!(
            host.query_selector(selector).expect("a selector").is_none(),
            "{selector} in {}",
            host.inner_html()
        );
    }
    let text = host
        .dyn_ref::<web_sys::HtmlElement>()
        .map(|h| h.inner_text())
        .unwrap_or_default();
    assert!(text.contains("<script>"), "shown as text: {text}");
    let pwned = js_sys_like_get("__pwned");
    assert!(pwned.is_none(), "something ran: {pwned:?}");
    host.remove();
}

/// A property of `window`, if set.
fn js_sys_like_get(name: &str) -> Option<String> {
    let window = web_sys::window()?;
    let value = wasm_bindgen::JsValue::from(window);
    let got = web_sys::js_sys::Reflect::get(&value, &name.into()).ok()?;
    (!got.is_undefined()).then(|| format!("{got:?}"))
}
