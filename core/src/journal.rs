//! The journal of an operation under way (enable or disable), kept in each
//! service's state, written by the engine before every step, so that after a
//! crash `repair` knows what to finish or undo. The type is the front ends'
//! too (`info` shows it).

pub use tails_server_types::progress::{Journal, Operation, Progress, Step, STEPS};
