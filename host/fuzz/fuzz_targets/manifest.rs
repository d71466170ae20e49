//! Fuzz the checks on what a plugin's `describe` returns (the manifest, its
//! unit, and the consent lines made from it). The input is the description as
//! JSON (seeds in `seeds/manifest/`). A description with no problems must
//! hold every rule the rest of the host relies on, checked again here with
//! the lower-level checks; consent lines are always single, escaped lines.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use tails_server::broker::caps::{reserved_port, validate_declared_path, validate_package_name, NpmSpec};
use tails_server::manifest::{self, MAX_OPTIONS};
use tails_server::options::{all_specs, fits, valid_name};
use tails_server::runtime::bindings::tails::server::types::{Protocol, ServiceInfo, ServiceUnit};
use tails_server::{consent, state, units};

fuzz_target!(|data: &[u8]| {
    let Ok(info) = serde_json::from_slice::<ServiceInfo>(data) else { return };
    let problems = manifest::problems(&info);
    assert!(problems.len() <= 21, "problems are bounded");
    let specs = all_specs(&info);
    let unit_problems = units::problems(&info, &specs);
    if !problems.is_empty() || !unit_problems.is_empty() {
        return;
    }
    assert!(valid_name(&info.name));
    assert!(!manifest::RESERVED_NAMES.contains(&info.name.as_str()));
    assert!(info.options.len() <= MAX_OPTIONS);
    for spec in &info.options {
        assert!(valid_name(&spec.name), "{:?}", spec.name);
        assert!(fits(&spec.kind, &spec.default), "{:?}", spec.name);
    }
    let caps = &info.capabilities;
    for package in &caps.packages {
        assert!(validate_package_name(package).is_ok(), "{package:?}");
    }
    for npm in &caps.npm_packages {
        assert!(NpmSpec::parse(npm).is_ok(), "{npm:?}");
    }
    for path in &caps.config_paths {
        assert!(validate_declared_path(path).is_ok(), "{path:?}");
    }
    for port in &caps.ports {
        assert!(reserved_port(port.port).is_none(), "{}", port.port);
    }
    assert!(
        caps.ports.iter().any(|p| p.port == info.default_target_port && p.protocol == Protocol::Tcp),
        "the target port is a declared TCP port"
    );
    if let ServiceUnit::Packaged(name) = &info.unit {
        assert!(units::check_packaged_name(name).is_ok());
    }
    // What consent shows is one escaped line per capability.
    let requested: BTreeSet<_> = state::requested(&info);
    for line in consent::describe(&requested, &info) {
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }
});
