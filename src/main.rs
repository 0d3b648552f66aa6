//! The page's WebAssembly, which Trunk builds into `index.html`: the interface alone. The SQL
//! engine runs in the page's Web Workers, on a module of its own (`src/bin/dataflow-lab-worker.rs`).

/// The page's allocator (see [`dataflow_lab::heap::WasmAllocator`]).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dataflow_lab::heap::WasmAllocator = dataflow_lab::heap::wasm_allocator();

#[cfg(target_arch = "wasm32")]
fn main() {
    dataflow_lab::ui::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "dataflow-lab-web is the browser app: serve it with `make serve` and open http://127.0.0.1:8080"
    );
    std::process::exit(2);
}
