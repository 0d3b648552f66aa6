//! The page: Yew components that render the console session and send it actions.
//!
//! Components hold no database or simulation logic: they read [`state::AppState`] and dispatch
//! [`state::Action`]s, which the state reduces by calling into [`crate::sim`].

pub mod app;
pub mod browser;
pub mod editor;
pub mod results;
pub mod schema;
pub mod state;

/// Starts the app in the page: installs the panic banner and mounts [`app::App`] on `#app`.
pub fn start() {
    browser::install_panic_banner();
    let root = browser::app_root();
    yew::Renderer::<app::App>::with_root(root).render();
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
