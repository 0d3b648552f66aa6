//! The page: Yew components that render the live simulator and the console, and send actions.
//!
//! Components hold no database or simulation logic: they read [`state::AppState`] and dispatch
//! [`state::Action`]s, which the state reduces by calling into [`crate::sim`].

pub mod app;
pub mod browser;
pub mod charts;
pub mod checker;
pub mod checkpoints;
pub mod compare;
pub mod console_worker;
pub mod controls;
pub mod coupling;
pub mod editor;
pub mod embed;
pub mod etl;
pub mod field;
pub mod help;
pub mod icons;
pub mod keep;
pub mod lesson;
pub mod live;
pub mod locks_panel;
pub mod messages;
pub mod module_worker;
pub mod narration;
pub mod pipeline;
pub mod recovery;
pub mod registry;
pub mod results;
pub mod run_worker;
pub mod scenario_editor;
pub mod schema;
pub mod script_view;
pub mod share;
pub mod sim_console;
pub mod simulator;
pub mod state;
pub mod sweep;
pub mod topology;
pub mod transport;
pub mod worker;

use crate::sim::view::PageView;
use std::rc::Rc;

/// A page view shared by the panels, compared by identity: a new frame's view is a new `Rc`, so
/// panels re-render when (and only when) the view was rebuilt.
#[derive(Clone)]
pub struct ViewRef(pub Rc<PageView>);

impl PartialEq for ViewRef {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Starts the app in the page: installs the panic banner and mounts [`app::App`] (or, in an
/// embed, [`app::EmbedApp`]) on `#app`. The first render is quick: the scenario's databases
/// are built in the run's worker, which the page shows building.
pub fn start() {
    browser::install_panic_banner();
    // A link's `theme=` holds for this visit (an embed's colours are its author's).
    browser::show_theme(&browser::initial_theme());
    let embedded = browser::embedded();
    if embedded {
        browser::mark_embedded();
    }
    let root = browser::app_root();
    if embedded {
        yew::Renderer::<app::EmbedApp>::with_root(root).render();
    } else {
        yew::Renderer::<app::App>::with_root(root).render();
    }
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
