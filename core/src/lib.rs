//! Tails Server's core: publish services as Tor onion services, configured by
//! sandboxed WebAssembly plugins. The engine, the broker, the plugin runtime,
//! the system backends, tor and the state. It never prints: operations report
//! `journal::Progress` to the context (or, from below a request, through
//! `notice`) and return values; the front ends (the
//! `tails-server` CLI, the `tails-serverd` daemon) decide how to show them.
//! See ARCHITECTURE.md for the map.

pub mod audit;
pub mod authoring;
pub mod bindings;
pub mod blocking;
pub mod broker;
pub mod claims;
pub mod consent;
pub mod context;
/// Showing untrusted text; it lives with the D-Bus types so that every front
/// end (the window too, which links no core) escapes the same way.
pub use tails_server_types::display;
pub mod engine;
pub mod fsutil;
pub mod journal;
pub mod manifest;
pub mod notice;
pub mod onion;
pub mod options;
pub mod persistence;
pub mod places;
pub mod plugin_file;
pub mod plugins;
pub mod requests;
pub mod runtime;
pub mod shipped;
pub mod state;
pub mod system;
pub mod tor;
