//! The commands behind the CLI. Each prints for a person (or JSON/YAML for
//! scripts) and returns an error with a message that says what to do.

pub mod plugin;
pub mod publishing;
pub mod reference;
pub mod service;

use std::io::{BufRead, Write};
use tails_server_core::journal::Progress;

use tails_server_types::Stream;

/// A line for each thing an operation says (the lines tests and benches read:
/// `  ✓ STEP: what [SECONDS s]`), warnings on the error stream.
pub fn print_progress(progress: &Progress) {
    match progress.line() {
        (Stream::Out, line) => println!("{line}"),
        (Stream::Err, line) => eprintln!("{line}"),
    }
}

/// Ask a yes/no question on the terminal; anything but "y"/"yes" (or no
/// answer at all) is a no. At most a short line is read.
pub fn ask(question: &str) -> bool {
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    match std::io::Read::take(std::io::stdin().lock(), 256).read_line(&mut answer) {
        Ok(0) | Err(_) => {
            println!();
            false
        }
        Ok(_) => matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
    }
}
