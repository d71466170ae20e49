//! The commands behind the CLI. Each prints for a person (or JSON/YAML for
//! scripts) and returns an error with a message that says what to do.

pub mod publishing;
pub mod plugin;
pub mod service;

use tails_server_core::journal::Progress;
use tails_server_dbus::Stream;

/// A line for each thing an operation says (the lines tests and benches read:
/// `  ✓ STEP: what [SECONDS s]`), warnings on the error stream.
pub fn print_progress(progress: &Progress) {
    match progress.line() {
        (Stream::Out, line) => println!("{line}"),
        (Stream::Err, line) => eprintln!("{line}"),
    }
}
