//! Dataflow Lab: watch dataflow through a shared database happen live, with real SQL (GlueSQL)
//! running in the page.
//!
//! - [`sim`] — the simulation core: pure Rust, deterministic, no web crates, tested natively.
//! - `ui` — the Yew page (built for `wasm32` only): renders what `sim` produces.

pub mod authoring;
pub mod embed;
pub mod heap;
pub mod layout;
pub mod link;
pub mod markdown;
pub mod sim;

#[cfg(target_arch = "wasm32")]
pub mod ui;
