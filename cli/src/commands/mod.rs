//! The commands behind the CLI. Each prints for a person (or JSON/YAML for
//! scripts) and returns an error with a message that says what to do.

pub mod publishing;
pub mod plugin;
pub mod service;

use tails_server_core::journal::{Operation, Progress};

/// A line for each thing an operation says (the lines tests and benches read:
/// `  ✓ STEP: what [SECONDS s]`).
pub fn print_progress(progress: &Progress) {
    match progress {
        Progress::Resuming { service, operation } => {
            let what = if *operation == Operation::Enable { "enable" } else { "disable" };
            println!("Finishing the interrupted {what} of {service}:");
        }
        Progress::Done { step, said, seconds: Some(seconds) } => println!("  ✓ {}: {said} [{seconds:.3} s]", step.name()),
        Progress::Done { step, said, seconds: None } => println!("  ✓ {}: {said}", step.name()),
        Progress::Failed { step } => println!("  ✗ {}: failed; undoing what was done", step.name()),
        Progress::Aside(text) => println!("    {text}"),
        Progress::Restored { service, from } => println!("{service}: restored from {}", from.display()),
        Progress::Repaired(line) => println!("{line}"),
        Progress::Autostarting { service } => println!("Enabling {service} (autostart):"),
    }
}
