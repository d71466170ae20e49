//! Showing what a plugin asks for, in words (the front end asks for the yes).

use std::collections::BTreeSet;

use crate::bindings::tails::server::types::{ServiceInfo, ServiceUnit};
use crate::broker::caps::Capability;
use crate::display;
use tails_server_types::Asked;

/// Each capability in words, with the port's stated purpose, beside its
/// short form (what `--deny` takes); a front end lays them out
/// (`Asked::line` for a terminal). On an upgrade (`previous`: the added
/// build's description), a unit says how it differs from the added one.
/// `first_party`: the plugin is Tails Server's own (`plugins::Origin`).
pub fn describe(
    caps: &BTreeSet<Capability>,
    info: &ServiceInfo,
    previous: Option<&ServiceInfo>,
    first_party: bool,
) -> Vec<Asked> {
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
                Capability::Unit { .. } => unit_words(info, previous, first_party),
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
    let inside: Vec<&str> = info
        .persistent_paths
        .iter()
        .filter(|p| crate::manifest::covers_persistent(path, p))
        .map(String::as_str)
        .collect();
    match inside.as_slice() {
        [] => String::new(),
        [one] if *one == path => "; kept in Persistent Storage when persistence is on".into(),
        some => format!(
            "; {} kept in Persistent Storage when persistence is on",
            display::line(&some.join(", "))
        ),
    }
}

/// The unit in words, what Persistent Storage keeps of its data folders, and
/// on an upgrade what changed.
fn unit_words(info: &ServiceInfo, previous: Option<&ServiceInfo>, first_party: bool) -> String {
    let mut words = crate::broker::caps::units::consent_words(&info.name, &info.unit, first_party);
    if let ServiceUnit::HostWritten(spec) = &info.unit {
        for folder in &spec.data_folders {
            let kept = kept(info, folder);
            if !kept.is_empty() {
                words += &format!("; in {}{kept}", display::line(folder));
            }
        }
    }
    if let Some(changed) =
        previous.and_then(|old| crate::broker::caps::units::unit_changes(&old.unit, &info.unit))
    {
        words += &format!(" (changed from the added build: {changed})");
    }
    words
}

/// What an upgrade changes that is not a capability, in words: what
/// Persistent Storage keeps (kept data outlives the session; a path no
/// longer kept is lost at shutdown).
pub fn changes(old: &ServiceInfo, new: &ServiceInfo) -> Vec<String> {
    let mut said = Vec::new();
    for path in new.persistent_paths.iter().filter(|p| !old.persistent_paths.contains(p)) {
        said.push(format!(
            "Persistent Storage now also keeps {} when persistence is on",
            display::line(path)
        ));
    }
    for path in old.persistent_paths.iter().filter(|p| !new.persistent_paths.contains(p)) {
        said.push(format!(
            "Persistent Storage no longer keeps {}: with persistence on, it is lost at shutdown",
            display::line(path)
        ));
    }
    said
}
