//! The results of recent runs, newest first: per statement its kind, its text, a plain summary
//! ("240 rows", "1 row updated"), how long it took, and a table of rows or GlueSQL's error.

use crate::sim::console::{ConsoleError, ConsoleResult, ConsoleRun};
use crate::sim::database::{CellKind, Outcome, StatementResult};
use crate::ui::state::SessionProps;
use yew::prelude::*;

/// Rows drawn per result table; the rest are counted, not drawn, to keep the page fast.
pub const ROWS_SHOWN: usize = 500;

/// Formats a duration for people: `0.08 ms`, `12.4 ms`, `1.25 s`.
pub fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// Formats a count with thousands separators: `12,345`.
pub fn format_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The list of runs.
#[component]
pub fn Results(props: &SessionProps) -> Html {
    let session = props.session.borrow();
    let runs: Vec<&ConsoleRun> = session.runs().collect();
    if runs.is_empty() {
        return html! {
            <section class="results empty" aria-label="Results">
                <p class="placeholder">
                    { "Results appear here. Write SQL above and press " }
                    <strong>{ "Run" }</strong>
                    { ", or pick an example." }
                </p>
            </section>
        };
    }
    html! {
        <section class="results" aria-label="Results" aria-live="polite">
            { for runs.iter().enumerate().map(|(i, run)| view_run(run, i == 0)) }
        </section>
    }
}

fn view_run(run: &ConsoleRun, latest: bool) -> Html {
    let failures = run.failures();
    let statements = run.results.len();
    let class = classes!("run", latest.then_some("latest"));
    html! {
        <article {class} data-run={run.id.to_string()}>
            <header class="run-header">
                <span class="run-id">{ format!("Run {}", run.id) }</span>
                <span>{ format!("{statements} statement{}", if statements == 1 { "" } else { "s" }) }</span>
                if failures > 0 {
                    <span class="badge error-badge">{ format!("{failures} failed") }</span>
                }
                <span class="elapsed">{ format_ms(run.elapsed_ms()) }</span>
            </header>
            { for run.results.iter().enumerate().map(|(i, r)| view_statement(run.id, i + 1, r)) }
        </article>
    }
}

fn view_statement(run_id: u64, index: usize, result: &ConsoleResult) -> Html {
    let ok = result.result.is_ok();
    let class = classes!("statement", if ok { "ok" } else { "failed" });
    let summary = match &result.result {
        Ok(r) => r.summary(),
        Err(_) => "error".to_owned(),
    };
    let label = format!("Statement {index} of run {run_id}");
    html! {
        <section {class} aria-label={label.clone()}>
            <header class="statement-header">
                <span class="kind">{ result.kind.label() }</span>
                <span class="line">{ format!("line {}", result.statement.line) }</span>
                <span class={classes!("summary", (!ok).then_some("summary-error"))}>
                    if ok {
                        <svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d="M6.2 11.4 2.8 8l1.1-1.1 2.3 2.3 5.9-5.9L13.2 4.4z"/></svg>
                    } else {
                        <svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d="M8 1.5 15 14H1zM7.3 6v4h1.4V6zm0 5v1.5h1.4V11z"/></svg>
                    }
                    { summary }
                </span>
                if let (Ok(r), false) = (&result.result, result.kind.is_transaction_control()) {
                    <span class="counters" title="Rows the storage engine read and wrote for this statement, and the index entries its writes added">
                        { format!("read {} · wrote {}", format_count(usize::try_from(r.counters.rows_read).unwrap_or(usize::MAX)), format_count(usize::try_from(r.counters.rows_written).unwrap_or(usize::MAX))) }
                        if r.counters.index_entries > 0 {
                            { format!(" · {} index {}", format_count(usize::try_from(r.counters.index_entries).unwrap_or(usize::MAX)), if r.counters.index_entries == 1 { "entry" } else { "entries" }) }
                        }
                    </span>
                }
                <span class="elapsed">{ format_ms(result.elapsed_ms) }</span>
            </header>
            <pre class="statement-sql"><code>{ &result.statement.sql }</code></pre>
            { match &result.result {
                Ok(r) => view_outcome(r, &label),
                Err(e) => view_error(e),
            } }
        </section>
    }
}

fn view_error(error: &ConsoleError) -> Html {
    html! {
        <div class="sql-error" role="alert">
            <span class="sql-error-title">
                { if error.from_glue { "GlueSQL says" } else { "The database says" } }
            </span>
            <pre>{ &error.message }</pre>
        </div>
    }
}

fn view_outcome(result: &StatementResult, label: &str) -> Html {
    let Outcome::Rows { columns, rows } = &result.outcome else {
        return Html::default();
    };
    if columns.is_empty() {
        return Html::default();
    }
    let hidden = rows.len().saturating_sub(ROWS_SHOWN);
    html! {
        <>
            <div class="table-wrap" tabindex="0" role="region" aria-label={format!("{label}: result rows")}>
                <table class="result-table">
                    <thead>
                        <tr>{ for columns.iter().map(|c| html! { <th scope="col">{ c }</th> }) }</tr>
                    </thead>
                    <tbody>
                        { for rows.iter().take(ROWS_SHOWN).map(|row| html! {
                            <tr>{ for row.iter().map(|cell| {
                                let class = match cell.kind {
                                    CellKind::Number => "num",
                                    CellKind::Null => "null",
                                    CellKind::Bool => "bool",
                                    CellKind::Text => "",
                                };
                                html! { <td {class}>{ &cell.text }</td> }
                            }) }</tr>
                        }) }
                    </tbody>
                </table>
            </div>
            if hidden > 0 {
                <p class="truncated">
                    { format!("Showing the first {} of {} rows.", format_count(ROWS_SHOWN), format_count(rows.len())) }
                </p>
            }
        </>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn durations_and_counts_read_well() {
        assert_eq!(format_ms(0.084), "0.08 ms");
        assert_eq!(format_ms(12.44), "12.4 ms");
        assert_eq!(format_ms(1250.0), "1.25 s");
        assert_eq!(format_count(7), "7");
        assert_eq!(format_count(1234), "1,234");
        assert_eq!(format_count(1_234_567), "1,234,567");
    }
}
