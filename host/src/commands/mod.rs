//! The commands behind the CLI. Each prints for a person (or JSON/YAML for
//! scripts) and returns an error with a message that says what to do.

pub mod publishing;
pub mod plugin;
pub mod service;
