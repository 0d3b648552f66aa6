//! The coupling map panel: which service reads and writes which column, as a matrix with a row
//! per `table.column` and a column per service, each table with its owner and how many services
//! write it. A schema change being previewed lights up the column it touches and the services it
//! will break. The map itself is the core's ([`crate::sim::coupling`]); this only draws it.

use crate::sim::coupling::{CouplingMap, Mark};
use crate::ui::live::SchemaPreview;
use std::rc::Rc;
use yew::prelude::*;

/// The panel's inputs.
#[derive(Properties, PartialEq)]
pub struct CouplingProps {
    /// The map.
    pub map: Rc<CouplingMap>,
    /// A schema change being previewed, if any.
    pub preview: Option<Rc<SchemaPreview>>,
}

/// Words for a mark, for screen readers and tooltips.
fn words(mark: Mark) -> &'static str {
    match mark {
        Mark::Read => "reads it by name",
        Mark::Write => "writes it",
        Mark::ReadWrite => "reads and writes it",
        Mark::Implicit => "reads it only through SELECT *",
    }
}

/// The coupling matrix of every database.
#[component]
pub fn CouplingPanel(props: &CouplingProps) -> Html {
    let map = &props.map;
    let touched = props.preview.as_ref().map(|p| {
        let change = &p.preview.preview.change;
        let column = match change {
            crate::sim::coupling::SchemaChange::RenameColumn { column, .. }
            | crate::sim::coupling::SchemaChange::DropColumn { column, .. } => Some(column.clone()),
            _ => None,
        };
        (
            p.database.clone(),
            change.table().unwrap_or_default().to_owned(),
            column,
            p.preview
                .preview
                .broken_services()
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )
    });
    html! {
        <div class="coupling">
            <p class="hint">{ "Read from each service's SQL: R: reads the column by name. W: writes it (by name, or by position in an INSERT without a column list). *: reads it only through SELECT *. A table written by more than one service has no single owner of its rules." }</p>
            { for map.databases.iter().map(|(database, tables)| {
                let services: Vec<&str> = map
                    .services()
                    .into_iter()
                    .filter(|s| map.operations.iter().any(|o| o.service == *s && o.database == *database))
                    .collect();
                html! {
                    <>
                    if services.len() > 2 {
                        <p class="scroll-hint" aria-hidden="true">{ format!("{} services: swipe the table sideways to see them all →", services.len()) }</p>
                    }
                    <div class="coupling-table-wrap" tabindex="0" role="region" aria-label={format!("Coupling map of {database}")}>
                        <table class="coupling-table" aria-label={format!("Who reads and writes what in {database}")}>
                            <thead>
                                <tr>
                                    <th scope="col">{ format!("{database}: table.column") }</th>
                                    { for services.iter().map(|s| html! {
                                        <th scope="col" class={classes!(touched.as_ref().is_some_and(|t| t.3.iter().any(|b| b == s)).then_some("broken"))}>{ *s }</th>
                                    }) }
                                </tr>
                            </thead>
                            { for tables.iter().map(|(table, columns)| {
                                let writers = map.writers(database, table);
                                let owner = map.owner(database, table);
                                let shared = writers.len() > 1;
                                let missing = map.missing(database, table);
                                let copy = map.is_read_model(database, table);
                                html! {
                                    <tbody>
                                        <tr class={classes!("coupling-group", shared.then_some("shared"))}>
                                            <th scope="rowgroup" colspan={(services.len() + 1).to_string()}>
                                                <b>{ table }</b>
                                                { match owner {
                                                    _ if copy => " · a read model: a copy the pipeline keeps of the owner's table".to_owned(),
                                                    Some(owner) => format!(" · owner {owner}"),
                                                    None => " · no owner declared".to_owned(),
                                                } }
                                                { match writers.len() {
                                                    0 if copy => String::new(),
                                                    0 => " · nobody writes it".to_owned(),
                                                    1 => format!(" · written by {}", writers[0]),
                                                    n => format!(" · written by {n} services: {}", writers.join(", ")),
                                                } }
                                            </th>
                                        </tr>
                                        { for columns.iter().map(|c| (c, false)).chain(missing.iter().map(|c| (c, true))).map(|(column, gone)| {
                                            let key = (table.clone(), column.clone());
                                            let lit = touched.as_ref().is_some_and(|t| {
                                                t.0 == *database && t.1 == *table && t.2.as_deref().is_none_or(|c| c == column)
                                            });
                                            html! {
                                                <tr class={classes!(lit.then_some("touched"), gone.then_some("gone"))}>
                                                    <th scope="row">
                                                        { column }
                                                        if gone {
                                                            <span class="coupling-gone" title="Named in these services' SQL, but no longer a column of the table: their statements fail">{ " (gone)" }</span>
                                                        }
                                                    </th>
                                                    { for services.iter().map(|s| {
                                                        let mark = map.mark(s, database, &key);
                                                        match mark {
                                                            Some(mark) => html! {
                                                                <td class={classes!("mark", format!("mark-{}", mark.symbol().to_lowercase().replace('*', "all")))}
                                                                    title={format!("{s} {}", words(mark))}>
                                                                    { mark.symbol() }
                                                                </td>
                                                            },
                                                            None => html! { <td /> },
                                                        }
                                                    }) }
                                                </tr>
                                            }
                                        }) }
                                    </tbody>
                                }
                            }) }
                        </table>
                    </div>
                    </>
                }
            }) }
        </div>
    }
}
