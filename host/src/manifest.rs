//! Checks on what a plugin says about itself in `describe`, before anything of
//! it is shown to the user or stored.

use std::collections::BTreeSet;

use crate::broker::caps::{validate_declared_path, validate_package_name, NpmSpec};
use crate::options::{self, fits, valid_name};
use crate::runtime::bindings::tails::server::types::ServiceInfo;

/// Words the CLI itself uses; no service may take them.
pub const RESERVED_NAMES: &[&str] = &["list", "plugin", "help", "version", "tor", "autostart", "repair", "tails-server"];

/// Every problem with the description, or nothing.
pub fn problems(info: &ServiceInfo) -> Vec<String> {
    let mut problems = Vec::new();
    let mut say = |p: String| problems.push(p);
    if !valid_name(&info.name) {
        say(format!("name {:?} must be 1-40 lower-case letters, digits and `-`, starting with a letter", info.name));
    }
    if RESERVED_NAMES.contains(&info.name.as_str()) {
        say(format!("name `{}` is a tails-server command", info.name));
    }
    let texts = [
        ("description", &info.description),
        ("client-application", &info.client_application),
        ("documentation", &info.documentation),
        ("systemd-service", &info.systemd_service),
        ("icon-name", &info.icon_name),
    ];
    for (field, text) in texts {
        if text.trim().is_empty() || text.len() > 1000 || text.chars().any(char::is_control) {
            say(format!("{field} must be one non-empty line of at most 1000 bytes"));
        }
    }
    if info.default_target_port == 0 || info.default_virtual_port == Some(0) {
        say("ports must be from 1 to 65535".into());
    }
    let mut seen = BTreeSet::new();
    let standard: Vec<String> = options::standard(info).into_iter().map(|s| s.name).collect();
    for option in &info.options {
        if !valid_name(&option.name) {
            say(format!("option name {:?} must be lower-case letters, digits and `-`", option.name));
        }
        if standard.contains(&option.name) || [options::LISTEN_ADDRESS, options::TARGET_PORT].contains(&option.name.as_str()) {
            say(format!("option `{}` is one every service has; the plugin may not redefine it", option.name));
        }
        if !seen.insert(option.name.as_str()) {
            say(format!("option `{}` is declared twice", option.name));
        }
        if !fits(&option.kind, &option.default) {
            say(format!("option `{}`: the default does not fit its kind ({})", option.name, options::allowed(&option.kind)));
        }
    }
    let caps = &info.capabilities;
    for package in &caps.packages {
        if let Err(e) = validate_package_name(package) {
            say(e);
        }
    }
    let mut npm_names = BTreeSet::new();
    for spec in &caps.npm_packages {
        match NpmSpec::parse(spec) {
            Ok(npm) if !npm_names.insert(npm.name.clone()) => say(format!("npm package {} is declared at two versions", npm.name)),
            Ok(_) => {}
            Err(e) => say(e),
        }
    }
    for path in &caps.config_paths {
        if let Err(e) = validate_declared_path(path) {
            say(e);
        }
    }
    for port in &caps.ports {
        if port.port == 0 || port.purpose.chars().any(char::is_control) || port.purpose.len() > 200 {
            say(format!("port {} must be from 1 to 65535 with a one-line purpose", port.port));
        }
    }
    // Persistent folders are bind-mounted into place: the same limits as the
    // paths a plugin may write.
    for path in &info.persistent_paths {
        if let Err(e) = validate_declared_path(path) {
            say(format!("persistent path: {e}"));
        }
    }
    problems
}
