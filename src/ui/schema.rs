//! The schema sidebar: every table with its row count, columns, types, keys and indexes, and
//! every view with its columns (its query on hover).
//! It is read again after every run, so a `CREATE TABLE` or a renamed column shows at once.

use crate::sim::database::TableInfo;
use crate::ui::results::format_count;
use crate::ui::state::SessionProps;
use yew::prelude::*;

/// The sidebar.
#[component]
pub fn Schema(props: &SessionProps) -> Html {
    let session = props.session.borrow();
    let tables = session.tables();
    let total_rows: usize = tables.iter().map(|t| t.row_count).sum();
    let views = tables.iter().filter(|t| t.view.is_some()).count();
    let totals = match views {
        0 => format!(
            "{} tables · {} rows",
            tables.len(),
            format_count(total_rows)
        ),
        n => format!(
            "{} tables · {n} view{} · {} rows",
            tables.len() - n,
            if n == 1 { "" } else { "s" },
            format_count(total_rows)
        ),
    };
    html! {
        <aside class="schema" aria-labelledby="schema-title">
            <h2 id="schema-title">
                { "Schema" }
                <span class="schema-totals">
                    { totals }
                </span>
            </h2>
            if let Some(error) = session.schema_error() {
                <p class="sql-error">{ error }</p>
            }
            if tables.is_empty() {
                <p class="placeholder">{ "No tables yet. Try CREATE TABLE." }</p>
            }
            <ul class="tables">
                { for tables.iter().map(view_table) }
            </ul>
        </aside>
    }
}

fn view_table(table: &TableInfo) -> Html {
    let rows = if table.view.is_some() {
        "view".to_owned()
    } else if table.row_count == 1 {
        "1 row".to_owned()
    } else {
        format!("{} rows", format_count(table.row_count))
    };
    html! {
        <li class="table" data-table={table.name.clone()}>
            <details open=true>
                <summary>
                    <span class="table-name">{ &table.name }</span>
                    <span class="row-count" title={table.view.as_ref().map(|q| format!("AS {q}"))}>{ rows }</span>
                </summary>
                <ul class="columns">
                    { for table.columns.iter().map(|c| html! {
                        <li class="column">
                            <span class="column-name">{ &c.name }</span>
                            <span class="column-type">{ &c.data_type }</span>
                            if c.primary_key {
                                <span class="tag tag-pk" title="primary key">{ "PK" }</span>
                            } else if c.unique {
                                <span class="tag tag-unique" title="unique">{ "UQ" }</span>
                            }
                            if !c.nullable && !c.primary_key {
                                <span class="tag tag-notnull" title="NOT NULL">{ "NN" }</span>
                            }
                        </li>
                    }) }
                    if table.columns.is_empty() {
                        <li class="column schemaless">{ "schemaless" }</li>
                    }
                    { for table.indexes.iter().map(|index| html! {
                        <li class="column index"><span class="tag tag-index">{ "IDX" }</span>{ index }</li>
                    }) }
                </ul>
            </details>
        </li>
    }
}
