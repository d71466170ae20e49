//! What an operation says as it goes, and the words a person reads for it.
//! The core reports these; the CLI prints them (in its own process or as the
//! daemon's job signals them) and the GUI shows them, so every front end words
//! an operation the same way.

use serde::{Deserialize, Serialize};

/// One step of enable (undone in reverse by disable).
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

pub const STEPS: [Step; 5] =
    [Step::Packages, Step::Configure, Step::Unit, Step::Firewall, Step::Publish];

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

/// What an operation says as it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Progress {
    /// Finishing `operation` of `service`, which a crash interrupted.
    Resuming { service: String, operation: Operation },
    /// A step is done (enable: with the seconds it took) or undone (disable).
    Done { step: Step, said: String, seconds: Option<f64> },
    /// A step failed; what was done is being undone.
    Failed { step: Step },
    /// Something done beside a step, worth saying.
    Aside { text: String },
    /// At boot: `service` was brought back from Persistent Storage at `from`.
    Restored { service: String, from: std::path::PathBuf },
    /// What `repair` did for one service.
    Repaired { line: String },
    /// At boot: `service` is being enabled, its autostart being on.
    Autostarting { service: String },
    /// A line for a person about what is being done (`Enabling web:`).
    Note { text: String },
    /// Something the person should know before going on (no client authorization).
    Warning { text: String },
    /// A wait for something outside Tails Server (the dpkg lock, another
    /// command holding the state lock), said so that a pause is explained.
    Waiting { text: String },
    /// A line from a plugin's log (already made safe to show by the core).
    Log { plugin: String, level: String, text: String },
}

/// Where a line goes: warnings to the error stream, the rest to the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

impl Progress {
    /// The line a person reads (tests and benches read `  ✓ STEP: what [SECONDS s]`).
    pub fn line(&self) -> (Stream, String) {
        let out = match self {
            Progress::Resuming { service, operation } => {
                let what = if *operation == Operation::Enable { "enable" } else { "disable" };
                format!("Finishing the interrupted {what} of {service}:")
            }
            Progress::Done { step, said, seconds: Some(seconds) } => {
                format!("  ✓ {}: {said} [{seconds:.3} s]", step.name())
            }
            Progress::Done { step, said, seconds: None } => format!("  ✓ {}: {said}", step.name()),
            Progress::Failed { step } => {
                format!("  ✗ {}: failed; undoing what was done", step.name())
            }
            Progress::Aside { text } => format!("    {text}"),
            Progress::Restored { service, from } => {
                format!("{service}: restored from {}", from.display())
            }
            Progress::Repaired { line } => line.clone(),
            Progress::Autostarting { service } => format!("Enabling {service} (autostart):"),
            Progress::Note { text } => text.clone(),
            Progress::Warning { text } => return (Stream::Err, format!("Warning: {text}")),
            // On the error stream: a command whose output is JSON stays JSON.
            Progress::Waiting { text } => return (Stream::Err, text.clone()),
            Progress::Log { plugin, level, text } => {
                return (Stream::Err, format!("{plugin}: {level}: {text}"))
            }
        };
        (Stream::Out, out)
    }
}

/// The journal of an operation under way (enable or disable): which step
/// is being done or undone and which are done. The core keeps it in each
/// service's state, written before every step, so that after a crash
/// `repair` knows what to finish or undo; `info` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The operation under way; none when the service is at rest.
    pub operation: Option<Operation>,
    /// The step being done or undone.
    pub current: Option<Step>,
    /// Steps of enable that are done (and not undone).
    pub done: Vec<Step>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_crosses_the_bus_as_json_unchanged() {
        let all = [
            Progress::Done { step: Step::Publish, said: "published".into(), seconds: Some(1.5) },
            Progress::Failed { step: Step::Unit },
            Progress::Resuming { service: "web".into(), operation: Operation::Disable },
            Progress::Warning { text: "careful".into() },
            Progress::Waiting { text: "for dpkg".into() },
            Progress::Log { plugin: "web".into(), level: "info".into(), text: "hello".into() },
        ];
        for p in all {
            let text = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Progress>(&text).unwrap(), p, "{text}");
        }
    }

    #[test]
    fn lines_are_the_ones_tests_and_benches_read() {
        let done = Progress::Done {
            step: Step::Configure,
            said: "2 files written".into(),
            seconds: Some(0.0123),
        };
        assert_eq!(done.line(), (Stream::Out, "  ✓ configure: 2 files written [0.012 s]".into()));
        assert_eq!(
            Progress::Warning { text: "x".into() }.line(),
            (Stream::Err, "Warning: x".into())
        );
        assert_eq!(
            Progress::Log { plugin: "site".into(), level: "info".into(), text: "hi".into() }.line(),
            (Stream::Err, "site: info: hi".into())
        );
        assert_eq!(
            Progress::Waiting { text: "Waiting…".into() }.line(),
            (Stream::Err, "Waiting…".into())
        );
    }
}
