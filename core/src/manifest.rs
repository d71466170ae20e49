//! Checks on what a plugin says about itself in `describe`, before anything of
//! it is shown to the user or stored.

use std::collections::BTreeSet;

use crate::bindings::tails::server::types::{
    OptionKind, OptionValue, Protocol, ServiceInfo, ServiceUnit,
};
use crate::broker::caps::{reserved_port, validate_declared_path, validate_package_name, NpmSpec};
use crate::display;
use crate::options::{self, fits, valid_name};

/// Words the CLI itself uses; no service may take them (a test checks this
/// against the CLI's commands).
pub const RESERVED_NAMES: &[&str] = &[
    "list",
    "plugin",
    "help",
    "version",
    "tor",
    "autostart",
    "repair",
    "reconcile",
    "disable-all",
    "completions",
    "man",
    "tails-server",
    "tails-serverd",
];

/// Bounds on what a description may hold: it is stored, shown at consent and
/// listed by `info`, so its size is the plugin's to choose only within these.
pub const MAX_OPTIONS: usize = 64;
pub const MAX_CHOICES: usize = 64;
pub const MAX_PACKAGES: usize = 64;
pub const MAX_NPM_PACKAGES: usize = 32;
pub const MAX_CONFIG_PATHS: usize = 64;
pub const MAX_PORTS: usize = 16;
pub const MAX_PERSISTENT_PATHS: usize = 32;
/// Longest single-line text (a description, an option's default).
pub const MAX_TEXT: usize = 1000;
/// Problems listed at most; the rest are counted.
const MAX_PROBLEMS: usize = 20;

/// What is wrong with a service's name, if anything (for a plugin's
/// description, and for `plugin new`).
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    if !valid_name(name) {
        return Err(format!(
            "name {} must be 1-40 lower-case letters, digits and `-`, starting with a letter",
            display::quoted(name)
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(format!("name `{name}` is a tails-server command"));
    }
    Ok(())
}

/// Every problem with the description, or nothing.
pub fn problems(info: &ServiceInfo) -> Vec<String> {
    let mut problems = Vec::new();
    let mut say = |p: String| problems.push(p);
    if let Err(problem) = check_name(&info.name) {
        say(problem);
    }
    let line = |field: &str, text: &str, required: bool, say: &mut dyn FnMut(String)| {
        if (required && text.trim().is_empty())
            || text.len() > MAX_TEXT
            || text.chars().any(char::is_control)
        {
            let what = if required { "one non-empty line" } else { "one line" };
            say(format!(
                "{field} must be {what} of at most {MAX_TEXT} bytes without control characters"
            ));
        }
    };
    line("description", &info.description, true, &mut say);
    line("client-application", &info.client_application, true, &mut say);
    line("documentation", &info.documentation, true, &mut say);
    line("icon-name", &info.icon_name, true, &mut say);
    line("name-in-gui", info.name_in_gui.as_deref().unwrap_or(""), false, &mut say);
    line(
        "client-application-in-gui",
        info.client_application_in_gui.as_deref().unwrap_or(""),
        false,
        &mut say,
    );
    let caps = &info.capabilities;
    let counts = [
        ("options", info.options.len(), MAX_OPTIONS),
        ("Debian packages", caps.packages.len(), MAX_PACKAGES),
        ("npm packages", caps.npm_packages.len(), MAX_NPM_PACKAGES),
        ("config paths", caps.config_paths.len(), MAX_CONFIG_PATHS),
        ("ports", caps.ports.len(), MAX_PORTS),
        ("persistent paths", info.persistent_paths.len(), MAX_PERSISTENT_PATHS),
    ];
    // Past a bound, the rest is not looked at: a plugin cannot make the
    // checks themselves costly.
    let over = display::over_bounds("it declares", &counts);
    if !over.is_empty() {
        problems.extend(over);
        return problems;
    }

    let mut seen = BTreeSet::new();
    let standard: Vec<String> = options::standard(info).into_iter().map(|s| s.name).collect();
    for option in &info.options {
        let shown = display::quoted(&option.name);
        if !valid_name(&option.name) {
            say(format!("option name {shown} must be lower-case letters, digits and `-`"));
            continue;
        }
        if standard.contains(&option.name) || options::DERIVED.contains(&option.name.as_str()) {
            say(format!(
                "option `{}` is one every service has; the plugin may not redefine it",
                option.name
            ));
        }
        if !seen.insert(option.name.as_str()) {
            say(format!("option `{}` is declared twice", option.name));
        }
        let field = |f: &str| format!("option `{}`: {f}", option.name);
        line(&field("name-in-gui"), &option.name_in_gui, true, &mut say);
        line(&field("description"), &option.description, true, &mut say);
        line(&field("group"), &option.group, false, &mut say);
        if let OptionKind::Choice(choices) = &option.kind {
            if choices.is_empty() || choices.len() > MAX_CHOICES {
                say(field(&format!("a choice needs 1 to {MAX_CHOICES} values")));
            }
            for choice in choices.iter().take(MAX_CHOICES) {
                line(&field("a choice"), choice, true, &mut say);
            }
        }
        if let OptionValue::Text(t) | OptionValue::Secret(t) | OptionValue::Choice(t) =
            &option.default
        {
            line(&field("the default"), t, false, &mut say);
        }
        if !fits(&option.kind, &option.default) {
            say(format!(
                "option `{}`: the default does not fit its kind ({})",
                option.name,
                display::line(&options::allowed(&option.kind))
            ));
        }
    }
    for package in &caps.packages {
        if let Err(e) = validate_package_name(package) {
            say(e);
        }
    }
    let mut npm_names = BTreeSet::new();
    for spec in &caps.npm_packages {
        match NpmSpec::parse(spec) {
            Ok(npm) if !npm_names.insert(npm.name.clone()) => {
                say(format!("npm package {} is declared at two versions", npm.name))
            }
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
        if let Some(why) = reserved_port(port.port) {
            say(format!("port {} may not be used: {why}", port.port));
        }
        line(&format!("the purpose of port {}", port.port), &port.purpose, true, &mut say);
    }
    // The target port is where tor sends the onion's clients: it must be a
    // port the plugin declared (and so one the user grants).
    let target = info.default_target_port;
    if !caps.ports.iter().any(|p| p.port == target && p.protocol == Protocol::Tcp) {
        say(format!("default-target-port {target} must be one of the TCP ports it declares in capabilities.ports"));
    }
    if info.default_virtual_port == Some(0) {
        say("default-virtual-port must be from 1 to 65535".into());
    }
    // Persistent paths are bind-mounted or copied into place: only paths the
    // plugin may write anyway, so that consent covers them.
    for path in &info.persistent_paths {
        if let Err(e) = validate_declared_path(path) {
            say(format!("persistent path: {e}"));
        } else if !caps
            .config_paths
            .iter()
            .chain(data_folders(info))
            .any(|declared| covers_persistent(declared, path))
        {
            say(format!(
                "persistent path {} must be one of the config paths or data folders it declares, or inside one of their folders",
                display::quoted(path)
            ));
        }
    }
    for problem in crate::broker::caps::units::problems(info, &options::all_specs(info)) {
        say(problem);
    }
    if problems.len() > MAX_PROBLEMS {
        let more = problems.len() - MAX_PROBLEMS;
        problems.truncate(MAX_PROBLEMS);
        problems.push(format!("… and {more} more"));
    }
    problems
}

fn data_folders(info: &ServiceInfo) -> impl Iterator<Item = &String> {
    match &info.unit {
        ServiceUnit::HostWritten(spec) => spec.data_folders.iter(),
        ServiceUnit::Packaged(_) => [].iter(),
    }
}

/// A persistent path is covered by a declared config path that is the same
/// file or folder, or a folder that holds it.
pub fn covers_persistent(declared: &str, persistent: &str) -> bool {
    declared == persistent
        || (declared.ends_with('/')
            && persistent.starts_with(declared)
            && persistent.len() > declared.len())
}
