//! The journal of an operation under way (enable or disable): which step
//! is being done or undone and which are done. It is kept in each service's
//! state, written before every step, so that after a crash `repair` knows
//! what to finish or undo. The engine writes it; the state stores it.

use serde::{Deserialize, Serialize};

pub use tails_server_dbus::progress::{Operation, Progress, Step, STEPS};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The operation under way; none when the service is at rest.
    pub operation: Option<Operation>,
    /// The step being done or undone.
    pub current: Option<Step>,
    /// Steps of enable that are done (and not undone).
    pub done: Vec<Step>,
}
