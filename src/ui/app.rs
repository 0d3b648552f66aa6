//! The whole page: the masthead with its two views — the live simulator (the default) and the
//! SQL console (`?view=console`) — around their own states.

use crate::sim::database::TransactionState;
use crate::sim::shop::DEFAULT_SEED;
use crate::ui::browser;
use crate::ui::editor::Editor;
use crate::ui::icons;
use crate::ui::results::Results;
use crate::ui::schema::Schema;
use crate::ui::simulator::Simulator;
use crate::ui::state::{Action, AppState, DATABASE_NAME};
use yew::prelude::*;

/// The page's two views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Simulator,
    Console,
}

/// The app's root component.
#[component]
pub fn App() -> Html {
    let view = use_state(|| match browser::query_param("view").as_deref() {
        Some("console") => View::Console,
        _ => View::Simulator,
    });
    let theme = use_state(browser::initial_theme);
    let next_theme = {
        let theme = theme.clone();
        Callback::from(move |_: MouseEvent| {
            let next = match theme.as_str() {
                "system" => "light",
                "light" => "dark",
                _ => "system",
            };
            browser::apply_theme(next);
            theme.set(next.to_owned());
        })
    };
    let theme_word = match theme.as_str() {
        "light" => "light",
        "dark" => "dark",
        _ => "auto",
    };
    let theme_label = format!("Theme: {theme_word} (click to change)");
    let tab = |target: View, label: &'static str| {
        let view_handle = view.clone();
        let onclick = Callback::from(move |_: MouseEvent| {
            browser::set_query(&[("view", (target == View::Console).then_some("console"))]);
            view_handle.set(target);
        });
        html! {
            <button type="button" role="tab" class="tab" aria-selected={(*view == target).to_string()}
                aria-controls="view" {onclick}>{ label }</button>
        }
    };
    html! {
        <div class="page">
            <header class="masthead">
                <div class="brand">
                    <svg class="logo" viewBox="0 0 32 32" aria-hidden="true">
                        <ellipse cx="16" cy="8" rx="10" ry="4"/>
                        <path d="M6 8v16c0 2.2 4.5 4 10 4s10-1.8 10-4V8"/>
                        <path d="M6 16c0 2.2 4.5 4 10 4s10-1.8 10-4"/>
                    </svg>
                    <div>
                        <h1>{ "Dataflow Lab" }</h1>
                        <p class="tagline">{ "Services sharing a database, simulated live — every statement is real SQL on GlueSQL in your browser" }</p>
                    </div>
                </div>
                <div class="masthead-end">
                    <nav class="tabs" role="tablist" aria-label="Views">
                        { tab(View::Simulator, "Simulator") }
                        { tab(View::Console, "SQL console") }
                    </nav>
                    <button type="button" class="button subtle theme-button" onclick={next_theme}
                        title={theme_label.clone()} aria-label={theme_label}>
                        { icons::theme(&theme) }
                        { theme_word }
                    </button>
                </div>
            </header>
            <div id="view" role="tabpanel">
                { match *view {
                    View::Simulator => html! { <Simulator /> },
                    View::Console => html! { <ConsolePage /> },
                } }
            </div>
            <footer class="footer">
                { "Dataflow Lab — every statement runs on GlueSQL compiled to WebAssembly; nothing leaves this page." }
            </footer>
        </div>
    }
}

/// The page embedded in another (`?embed=1`): the simulator alone, its panels as the embed
/// chose.
#[component]
pub fn EmbedApp() -> Html {
    html! {
        <div class="page embed-page" id="embed-root">
            <Simulator />
        </div>
    }
}

/// The SQL console on a seeded shop database of its own.
#[component]
fn ConsolePage() -> Html {
    let state = use_reducer(AppState::load);
    {
        // The worker's news, as actions.
        let (client, dispatcher) = (std::rc::Rc::clone(&state.client), state.dispatcher());
        use_effect_with((), move |_| {
            client.listen(move |news| dispatcher.dispatch(Action::News(std::rc::Rc::new(news))));
        });
    }
    let on_action = {
        let state = state.clone();
        Callback::from(move |action: Action| state.dispatch(action))
    };
    let reset = {
        let on_action = on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(Action::ResetDatabase))
    };
    let draft = AttrValue::from(state.session.borrow().draft.clone());
    let transaction = state.session.borrow().transaction();

    html! {
        <div class="console-page">
            <div class="console-bar">
                <p class="console-intro">{ "A psql-like console on a shop database of its own (not the simulation's)." }</p>
                <div class="db-status">
                    <span class="db-badge" title="The database this console is connected to">
                        <span class="dot" aria-hidden="true"></span>
                        { format!("{DATABASE_NAME} · seed {DEFAULT_SEED}") }
                        if !state.ready {
                            <span class="muted">{ " · loading…" }</span>
                        }
                    </span>
                    { match transaction {
                        TransactionState::Idle => Html::default(),
                        TransactionState::Open => html! {
                            <span class="txn-badge open" role="status"
                                title="Your changes are invisible to others until COMMIT">
                                { "● transaction open" }
                            </span>
                        },
                        TransactionState::Aborted => html! {
                            <span class="txn-badge aborted" role="status"
                                title="A statement failed inside the transaction: run ROLLBACK">
                                { "✕ transaction failed — ROLLBACK" }
                            </span>
                        },
                    } }
                    <button type="button" class="button subtle" onclick={reset}
                        title="Throw away every change and load the shop data again">
                        { "Reset database" }
                    </button>
                </div>
            </div>
            if let Some(notice) = &state.notice {
                <div class="notice" role="status">
                    <p>{ &notice.message }</p>
                    if let Some(sql) = &notice.sql {
                        <pre><code>{ sql }</code></pre>
                    }
                </div>
            }
            <main class="workspace">
                <div class="console">
                    <Editor {draft} on_action={on_action.clone()} />
                    <Results session={state.session.clone()} version={state.runs_version} />
                </div>
                <Schema session={state.session.clone()} version={state.schema_version} />
            </main>
        </div>
    }
}
