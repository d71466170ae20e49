//! Showing what a plugin asks for, and asking the user for a yes.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};

use crate::broker::caps::Capability;
use crate::runtime::bindings::tails::server::types::ServiceInfo;

/// One line per capability, in words, with the port's stated purpose, and
/// the capability's short form (what `--deny` takes) beside it.
pub fn describe(caps: &BTreeSet<Capability>, info: &ServiceInfo) -> Vec<String> {
    caps.iter()
        .map(|cap| {
            let words = match cap {
                Capability::Package { name } => format!("install the Debian package {name}"),
                Capability::NpmPackage { spec } => match crate::broker::caps::NpmSpec::parse(spec) {
                    Ok(npm) => format!(
                        "install the npm package {} {} from the npm registry into {}, without running its install scripts",
                        npm.name,
                        npm.version,
                        crate::system::npm::folder_of(&info.name).display()
                    ),
                    Err(e) => e,
                },
                Capability::ConfigPath { path } if path.ends_with('/') => format!("write files in the folder {path}"),
                Capability::ConfigPath { path } => format!("write the file {path}"),
                Capability::Port { port, protocol } => {
                    let purpose = info
                        .capabilities
                        .ports
                        .iter()
                        .find(|p| p.port == *port && crate::broker::caps::Proto::from(p.protocol) == *protocol)
                        .map(|p| format!(" ({})", p.purpose))
                        .unwrap_or_default();
                    format!("listen on port {port}/{protocol}{purpose}")
                }
            };
            format!("  - {words}   [{cap}]")
        })
        .collect()
}

/// Ask a yes/no question on the terminal; anything but "y"/"yes" (or no
/// answer at all) is a no.
pub fn ask(question: &str) -> bool {
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    match std::io::stdin().lock().read_line(&mut answer) {
        Ok(0) | Err(_) => {
            println!();
            false
        }
        Ok(_) => matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
    }
}
