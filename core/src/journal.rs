//! The journal of an operation under way (enable or disable): which step
//! is being done or undone and which are done. It is kept in each service's
//! state, written before every step, so that after a crash `repair` knows
//! what to finish or undo. The engine writes it; the state stores it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Install the granted packages; keep their unit from starting on its own.
    Packages,
    /// The plugin writes the configuration from the options.
    Configure,
    /// Start (restart) the systemd unit and wait until it runs.
    Unit,
    /// Open the firewall as allow-lan and allow-localhost say.
    Firewall,
    /// Publish the onion service with the stored key.
    Publish,
}

pub const STEPS: [Step; 5] = [Step::Packages, Step::Configure, Step::Unit, Step::Firewall, Step::Publish];

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Packages => "packages",
            Step::Configure => "configure",
            Step::Unit => "unit",
            Step::Firewall => "firewall",
            Step::Publish => "publish",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Enable,
    Disable,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The operation under way; none when the service is at rest.
    pub operation: Option<Operation>,
    /// The step being done or undone.
    pub current: Option<Step>,
    /// Steps of enable that are done (and not undone).
    pub done: Vec<Step>,
}

/// What an operation says as it goes. The engine never prints: a front end
/// shows these (the CLI a line each, as `commands::print_progress` does).
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Finishing `operation` of `service`, which a crash interrupted.
    Resuming { service: String, operation: Operation },
    /// A step is done (enable: with the seconds it took) or undone (disable).
    Done { step: Step, said: String, seconds: Option<f64> },
    /// A step failed; what was done is being undone.
    Failed { step: Step },
    /// Something done beside a step, worth saying.
    Aside(String),
    /// At boot: `service` was brought back from Persistent Storage at `from`.
    Restored { service: String, from: std::path::PathBuf },
    /// What `repair` did for one service.
    Repaired(String),
    /// At boot: `service` is being enabled, its autostart being on.
    Autostarting { service: String },
}
