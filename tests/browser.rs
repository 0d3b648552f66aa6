//! What only exists in the browser: the clock that times statements and the storage that keeps
//! the editor text and the history across reloads. Runs in headless Chromium
//! (`cargo test --target wasm32-unknown-unknown`); natively this file is empty.
#![cfg(target_arch = "wasm32")]

use dataflow_lab::sim::console::ConsoleSession;
use dataflow_lab::sim::shop::{self, DEFAULT_SEED};
use dataflow_lab::ui::browser;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// `performance.now()` is there and moves forward, so statements get real elapsed times.
#[wasm_bindgen_test]
fn the_browser_clock_times_real_statements() {
    let mut console = ConsoleSession::new(shop::shop_database("shop", DEFAULT_SEED).expect("shop"));
    let before = browser::now_ms();
    assert!(before > 0.0, "performance.now() is missing");
    let run = console
        .run(
            "SELECT c.country, COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.country",
            browser::now_ms,
        )
        .expect("a run");
    assert!(run.results[0].result.is_ok());
    assert!(run.elapsed_ms() >= 0.0);
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
