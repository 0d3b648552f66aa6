//! The console inside the simulation: SQL typed here runs as a session of its own among the
//! services — `BEGIN; UPDATE …` really holds its locks (and the services wait on them) until a
//! later `COMMIT` or `ROLLBACK`. Each statement shows whether it is queued, waiting for a lock
//! (and for whom), or done, with its rows or GlueSQL's error.

use crate::sim::database::TransactionState;
use crate::sim::view::{ConsoleLine, ConsoleState};
use crate::sim::world::Command;
use crate::ui::browser;
use crate::ui::live::LiveAction;
use crate::ui::ViewRef;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

/// The console's inputs.
#[derive(Properties, PartialEq)]
pub struct SimConsoleProps {
    /// What to show.
    pub view: ViewRef,
    /// Each database's suggested SQL (from the scenario), if it has one.
    pub examples: Rc<Vec<(String, String)>>,
    /// Whether simulated time runs (statements only run while it does).
    pub playing: bool,
    /// Where actions go.
    pub on_action: Callback<LiveAction>,
}

const SHOWN: usize = 8;

const DRAFT_KEY: &str = "dataflow-lab.sim.console.draft";

/// SQL to suggest for a database: the scenario's own example, or a harmless look at a table.
fn example_for(examples: &[(String, String)], database: &str, tables: &[String]) -> String {
    examples
        .iter()
        .find(|(name, _)| name == database)
        .map(|(_, sql)| sql.clone())
        .or_else(|| {
            tables
                .first()
                .map(|t| format!("SELECT * FROM {t} LIMIT 5;"))
        })
        .unwrap_or_else(|| "SELECT 1;".to_owned())
}

fn line(entry: &ConsoleLine) -> Html {
    let (class, word) = match entry.state {
        ConsoleState::Queued => ("queued", "queued"),
        ConsoleState::Running => ("running", "running"),
        ConsoleState::Waiting => ("waiting", "waiting"),
        ConsoleState::Ok => ("ok", "ok"),
        ConsoleState::Failed => ("failed", "error"),
    };
    html! {
        <li class={classes!("console-line", class)} data-entry={entry.id.to_string()}>
            <div class="console-line-head">
                <span class={classes!("console-state", class)}>{ word }</span>
                <code class="console-sql">{ &entry.sql }</code>
                <span class="console-took">{ &entry.took }</span>
            </div>
            <p class="console-message">{ &entry.message }</p>
            if let Some((columns, rows)) = &entry.rows {
                if !rows.is_empty() {
                    <div class="table-scroll" tabindex="0" role="region" aria-label="Query result">
                        <table class="console-rows">
                            <thead><tr>{ for columns.iter().map(|c| html! { <th scope="col">{ c }</th> }) }</tr></thead>
                            <tbody>
                                { for rows.iter().map(|row| html! {
                                    <tr>{ for row.iter().map(|cell| html! { <td>{ cell }</td> }) }</tr>
                                }) }
                            </tbody>
                        </table>
                    </div>
                }
            }
        </li>
    }
}

/// The console inside the simulation.
#[component]
pub fn SimConsole(props: &SimConsoleProps) -> Html {
    let view = &props.view.0;
    // What the user typed is kept in the browser: it survives a reload and a crash of the engine.
    let sql = use_state(|| browser::local_get(DRAFT_KEY).unwrap_or_default());
    let database = use_state(|| {
        view.databases
            .first()
            .map(|d| d.name.clone())
            .unwrap_or_default()
    });
    let submit = {
        let (sql, database, on_action) = (sql.clone(), database.clone(), props.on_action.clone());
        move || {
            if sql.trim().is_empty() {
                return;
            }
            on_action.emit(LiveAction::Command(Command::Console {
                database: (*database).clone(),
                sql: (*sql).clone(),
            }));
        }
    };
    let on_submit = {
        let submit = submit.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            submit();
        })
    };
    let on_key = Callback::from(move |event: KeyboardEvent| {
        if event.key() == "Enter" && (event.ctrl_key() || event.meta_key()) {
            event.prevent_default();
            submit();
        }
    });
    let on_input = {
        let sql = sql.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(area) = event
                .target()
                .and_then(|t| t.dyn_into::<HtmlTextAreaElement>().ok())
            {
                browser::local_set(DRAFT_KEY, &area.value());
                sql.set(area.value());
            }
        })
    };
    let on_database = {
        let database = database.clone();
        Callback::from(move |event: Event| {
            if let Some(value) = crate::ui::browser::select_value(&event) {
                database.set(value);
            }
        })
    };
    let tables: Vec<String> = view
        .edges
        .iter()
        .filter(|e| e.database == *database)
        .map(|e| e.table.clone())
        .collect();
    let example = example_for(&props.examples, &database, &tables);
    let use_example = {
        let (sql, example) = (sql.clone(), example.clone());
        Callback::from(move |_: MouseEvent| {
            browser::local_set(DRAFT_KEY, &example);
            sql.set(example.clone());
        })
    };
    let state = view
        .console_sessions
        .iter()
        .find(|(name, _)| *name == *database)
        .map_or(TransactionState::Idle, |(_, state)| *state);
    let lines: Vec<&ConsoleLine> = view
        .console
        .iter()
        .rev()
        .filter(|l| l.database == *database)
        .take(SHOWN)
        .collect();
    html! {
        <div class="sim-console">
            <form onsubmit={on_submit}>
                <div class="console-top">
                    <label class="field">
                        <span>{ "Database" }</span>
                        <select onchange={on_database} aria-label="Console database">
                            { for view.databases.iter().map(|d| html! {
                                <option value={d.name.clone()} selected={*database == d.name}>{ &d.name }</option>
                            }) }
                        </select>
                    </label>
                    { match state {
                        TransactionState::Idle => html! { <span class="txn-badge idle">{ "no transaction" }</span> },
                        TransactionState::Open => html! {
                            <span class="txn-badge open" role="status" title="Your locks are held until COMMIT or ROLLBACK">
                                { "● transaction open — holding locks" }
                            </span>
                        },
                        TransactionState::Aborted => html! {
                            <span class="txn-badge aborted" role="status">{ "✕ transaction failed — ROLLBACK" }</span>
                        },
                    } }
                </div>
                <textarea id="sim-sql" class="sql-input" rows="3" spellcheck="false" value={(*sql).clone()}
                    oninput={on_input} onkeydown={on_key}
                    aria-label="SQL for the console inside the simulation"
                    placeholder={example.clone()} />
                <div class="console-actions">
                    <button type="submit" class="button primary small">{ "Run in simulation" }</button>
                    <span class="hint"><kbd>{ "Ctrl" }</kbd>{ "+" }<kbd>{ "Enter" }</kbd></span>
                </div>
            </form>
            if !props.playing && lines.iter().any(|l| matches!(l.state, ConsoleState::Queued | ConsoleState::Running | ConsoleState::Waiting)) {
                <p class="console-paused" role="status">{ "The simulation is paused: statements run in simulated time — press play (Space) or +100 ms to let them go on." }</p>
            }
            if lines.is_empty() {
                <div class="quiet console-hint">
                    <p>{ "Statements typed here run among the services, taking locks and waiting for them. Try:" }</p>
                    <p><code class="console-example">{ example.clone() }</code>
                        <button type="button" class="button subtle small" onclick={use_example}>{ "Put it in the box" }</button></p>
                </div>
            } else {
                <ol class="console-lines" reversed=true tabindex="0" aria-label="Console history, newest first">{ for lines.into_iter().map(line) }</ol>
            }
        </div>
    }
}
