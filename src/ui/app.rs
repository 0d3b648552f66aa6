//! The whole page: header, editor, results and schema sidebar around one [`AppState`].

use crate::sim::database::TransactionState;
use crate::sim::shop::DEFAULT_SEED;
use crate::ui::editor::Editor;
use crate::ui::results::Results;
use crate::ui::schema::Schema;
use crate::ui::state::{Action, AppState, DATABASE_NAME};
use yew::prelude::*;

/// The app's root component.
#[component]
pub fn App() -> Html {
    let state = use_reducer(AppState::load);
    let on_action = {
        let state = state.clone();
        Callback::from(move |action: Action| state.dispatch(action))
    };
    let reset = {
        let on_action = on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(Action::ResetDatabase))
    };
    let draft = AttrValue::from(state.session.borrow().draft.clone());
    let transaction = state.session.borrow().database().transaction_state();

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
                        <p class="tagline">{ "SQL console · a real GlueSQL database running in your browser" }</p>
                    </div>
                </div>
                <div class="db-status">
                    <span class="db-badge" title="The database this console is connected to">
                        <span class="dot" aria-hidden="true"></span>
                        { format!("{DATABASE_NAME} · seed {DEFAULT_SEED}") }
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
            </header>
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
            <footer class="footer">
                { "Dataflow Lab — every statement runs on GlueSQL compiled to WebAssembly; nothing leaves this page." }
            </footer>
        </div>
    }
}
