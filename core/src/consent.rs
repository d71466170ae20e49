//! Showing what a plugin asks for, in words (the front end asks for the yes).

use std::collections::BTreeSet;

use crate::broker::caps::Capability;
use crate::display;
use crate::runtime::bindings::tails::server::types::ServiceInfo;
use tails_server_dbus::Asked;

/// Each capability in words, with the port's stated purpose, beside its
/// short form (what `--deny` takes); a front end lays them out
/// (`Asked::line` for a terminal).
pub fn describe(caps: &BTreeSet<Capability>, info: &ServiceInfo) -> Vec<Asked> {
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
                Capability::ConfigPath { path } if path.ends_with('/') => format!("read and write files in the folder {}{}", display::line(path), kept(info, path)),
                Capability::ConfigPath { path } => format!("read and write the file {}{}", display::line(path), kept(info, path)),
                Capability::Unit { .. } => crate::units::consent_words(&info.name, &info.unit),
                Capability::Port { port, protocol } => {
                    let purpose = info
                        .capabilities
                        .ports
                        .iter()
                        .find(|p| p.port == *port && crate::broker::caps::Proto::from(p.protocol) == *protocol)
                        .map(|p| format!(" ({})", display::line(&p.purpose)))
                        .unwrap_or_default();
                    let target = if *port == info.default_target_port && *protocol == crate::broker::caps::Proto::Tcp {
                        "; tor sends the onion service's clients here"
                    } else {
                        ""
                    };
                    format!("listen on port {port}/{protocol}{purpose}{target}")
                }
            };
            Asked { capability: cap.to_string(), words }
        })
        .collect()
}

/// What consent adds to a path that Persistent Storage keeps.
fn kept(info: &ServiceInfo, path: &str) -> String {
    let inside: Vec<&str> = info.persistent_paths.iter().filter(|p| crate::manifest::covers_persistent(path, p)).map(String::as_str).collect();
    match inside.as_slice() {
        [] => String::new(),
        [one] if *one == path => "; kept in Persistent Storage when persistence is on".into(),
        some => format!("; {} kept in Persistent Storage when persistence is on", display::line(&some.join(", "))),
    }
}
