//! The engine's WebAssembly: the page's Web Workers run it — the live run, the jobs
//! (comparisons, sweeps) and the SQL console's database — so that the page's own module
//! (`src/main.rs`) carries no SQL engine. Trunk builds it as a worker (`index.html`,
//! `data-type="worker"`); each worker's script (`src/ui/module_worker.rs`) loads it and calls
//! one of these entry points. Natively it is an empty program.

/// The engine's allocator (see [`dataflow_lab::heap::WasmAllocator`]).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dataflow_lab::heap::WasmAllocator = dataflow_lab::heap::wasm_allocator();

#[cfg(target_arch = "wasm32")]
fn main() {
    // Loading the module runs `main`: the entry point the worker calls next does the work.
}

/// A job's worker's entry point: runs the job the page sent (JSON, the first of `early`) and
/// posts its reports (see [`dataflow_lab::ui::worker`]).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_main(early: js_sys::Array) {
    dataflow_lab::ui::worker::serve(&early);
}

/// The run's worker's entry point: serves the live run, taking first the messages that came
/// while the module loaded (see [`dataflow_lab::ui::run_worker`]).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn run_worker_main(early: js_sys::Array) {
    dataflow_lab::ui::run_worker::serve(&early);
}

/// The SQL console's worker's entry point: serves the console's shop database (see
/// [`dataflow_lab::ui::console_worker`]).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn console_worker_main(early: js_sys::Array) {
    dataflow_lab::ui::console_worker::serve(&early);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("dataflow-lab-worker is the engine of the browser app's workers: see `make serve`");
    std::process::exit(2);
}
