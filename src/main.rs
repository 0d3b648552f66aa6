//! The WebAssembly entry point that Trunk builds into the page (`index.html`), and the entry
//! point of the page's worker (the same module, instantiated again off the main thread).

#[cfg(target_arch = "wasm32")]
fn main() {
    // In the worker, `worker_main` runs the job; the page is the main thread's.
    if !dataflow_lab::ui::worker::in_worker() {
        dataflow_lab::ui::start();
    }
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
    eprintln!(
        "dataflow-lab-web is the browser app: serve it with `make serve` and open http://127.0.0.1:8080"
    );
    std::process::exit(2);
}
