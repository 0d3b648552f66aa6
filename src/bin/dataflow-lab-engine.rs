//! Our SQL engine alone — GlueSQL over our storage, through [`Database::execute`], as the
//! simulator runs it — for the browser benchmark against sql.js (`make bench-engine`). It is
//! built for wasm32 only by `scripts/bench-engine.mjs`; natively it is an empty program.

/// The benchmark's allocator (see [`dataflow_lab::heap::WasmAllocator`]).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dataflow_lab::heap::WasmAllocator = dataflow_lab::heap::wasm_allocator();

#[cfg(target_arch = "wasm32")]
mod engine {
    use dataflow_lab::sim::database::Database;
    use dataflow_lab::sim::results::Outcome;
    use wasm_bindgen::prelude::*;

    /// One in-memory database that a page sends SQL text to, one statement a call.
    #[wasm_bindgen]
    pub struct Engine {
        db: Database,
    }

    #[wasm_bindgen]
    impl Engine {
        /// An empty database.
        #[wasm_bindgen(constructor)]
        #[allow(clippy::new_without_default)]
        pub fn new() -> Self {
            Self {
                db: Database::new("bench"),
            }
        }

        /// Runs one statement; returns the rows it returned (0 for a statement that returns
        /// none), so that a query's result is built in full, as the page would show it.
        ///
        /// # Errors
        ///
        /// GlueSQL's message, as the console shows it.
        pub fn execute(&mut self, sql: &str) -> Result<u32, JsError> {
            let result = self
                .db
                .execute(sql)
                .map_err(|error| JsError::new(&error.to_string()))?;
            Ok(match result.outcome {
                Outcome::Rows { rows, .. } => u32::try_from(rows.len()).unwrap_or(u32::MAX),
                _ => 0,
            })
        }
    }
}

fn main() {}
