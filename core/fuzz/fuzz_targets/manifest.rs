//! Fuzz the checks on what a plugin's `describe` returns (the manifest, its
//! unit, and the consent lines made from it). The input bytes are decoded
//! into a description field by field, mixing the places, ports, names and
//! placeholders an attacker would try with arbitrary text, so that every
//! input reaches the checks. A description with no problems must hold every
//! rule the rest of the host relies on, checked again here with the
//! lower-level checks; consent lines are always single, escaped lines.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use tails_server_core::broker::caps::units;
use tails_server_core::broker::caps::{
    reserved_port, validate_declared_path, validate_package_name, NpmSpec,
};
use tails_server_core::manifest::{self, MAX_OPTIONS};
use tails_server_core::options::{all_specs, fits, valid_name};
use tails_server_core::bindings::tails::server::types::{
    Capabilities, IntegerRange, OptionKind, OptionSpec, OptionValue, PortRequest, Protocol,
    ServiceInfo, ServiceUnit, UnitSpec,
};
use tails_server_core::{consent, state};

/// One of `choices`, or arbitrary text, or a choice with arbitrary text after it.
fn text(u: &mut Unstructured, choices: &[&str]) -> Result<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 | 1 if !choices.is_empty() => u.choose(choices)?.to_string(),
        2 if !choices.is_empty() => format!("{}{}", u.choose(choices)?, u.arbitrary::<&str>()?),
        _ => u.arbitrary::<String>()?,
    })
}

fn list<T>(
    u: &mut Unstructured,
    max: usize,
    mut item: impl FnMut(&mut Unstructured) -> Result<T>,
) -> Result<Vec<T>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| item(u)).collect()
}

const PLACES: &[&str] = &[
    "/etc/",
    "/var/lib/",
    "/var/run/",
    "/run/",
    "/usr/",
    "/usr/bin/",
    "/opt/",
    "/opt/tails-server/",
    "/srv/",
    "/home/amnesia/",
    "/lib/",
    "/bin/",
    "/var/www/",
    "/var/log/",
    "/var/cache/",
    "/var/lib/private/",
    "/etc/systemd/",
    "/etc/cron.d/",
    "/var/lib/tails-server/",
];
const COMPONENTS: &[&str] = &[
    "x",
    "svc",
    "..",
    ".",
    "",
    "systemd",
    "system",
    "cron.d",
    "tails-server",
    "private",
    "tor",
    "ssh",
    "sudoers.d",
];

fn path(u: &mut Unstructured) -> Result<String> {
    let mut p = u.choose(PLACES)?.to_string();
    for i in 0..u.int_in_range(0..=3)? {
        if i > 0 {
            p.push('/');
        }
        p += &text(u, COMPONENTS)?;
    }
    if u.arbitrary()? {
        p.push('/');
    }
    Ok(p)
}

fn port(u: &mut Unstructured) -> Result<u16> {
    Ok(match u.int_in_range(0..=2)? {
        0 => *u.choose(&[
            0u16, 22, 80, 1023, 1024, 5353, 8080, 9040, 9050, 9051, 9150, 64738, 65535,
        ])?,
        _ => u.arbitrary()?,
    })
}

fn value(u: &mut Unstructured) -> Result<OptionValue> {
    Ok(match u.int_in_range(0..=5)? {
        0 => OptionValue::Boolean(u.arbitrary()?),
        1 => OptionValue::Text(text(u, &["/var/www/html", "x"])?),
        2 => OptionValue::Secret(u.arbitrary()?),
        3 => OptionValue::Port(port(u)?),
        4 => OptionValue::Integer(u.arbitrary()?),
        _ => OptionValue::Choice(text(u, &["a", "b"])?),
    })
}

fn option(u: &mut Unstructured) -> Result<OptionSpec> {
    let kind = match u.int_in_range(0..=5)? {
        0 => OptionKind::Boolean,
        1 => OptionKind::Text,
        2 => OptionKind::Secret,
        3 => OptionKind::Port,
        4 => {
            let (a, b): (i64, i64) = (u.arbitrary()?, u.arbitrary()?);
            OptionKind::Integer(IntegerRange { min: a.min(b), max: a.max(b) })
        }
        _ => OptionKind::Choice(list(u, 4, |u| text(u, &["a", "b"]))?),
    };
    Ok(OptionSpec {
        name: text(
            u,
            &["folder", "password", "x", "target-port", "allow-lan", "onion-address", "-x", "A"],
        )?,
        name_in_gui: text(u, &["Folder"])?,
        description: text(u, &["what it does", "\u{1b}[2J"])?,
        group: text(u, &["", "Network"])?,
        kind,
        default: value(u)?,
        masked: u.arbitrary()?,
        read_only: u.arbitrary()?,
    })
}

const WORDS: &[&str] = &[
    "{listen-address}",
    "{target-port}",
    "{onion-address}",
    "{password}",
    "{x}",
    "{{",
    "}}",
    "{",
    "%h",
    "$HOME",
    "--port",
];

fn unit(u: &mut Unstructured) -> Result<ServiceUnit> {
    if u.arbitrary()? {
        return Ok(ServiceUnit::Packaged(text(
            u,
            &[
                "lighttpd.service",
                "tor@default.service",
                "ssh.service",
                "tails-server-x.service",
                "x@y.service",
            ],
        )?));
    }
    let program = |u: &mut Unstructured| {
        text(
            u,
            &[
                "/usr/bin/node",
                "/usr/bin/python3",
                "/etc/x/run",
                "/opt/tails-server/svc/node_modules/x",
                "bin/sh",
            ],
        )
    };
    // Mostly the form a data folder must have, so that the rest is reached.
    let data_folders = list(u, 3, |u| {
        if u.int_in_range(0..=3)? > 0 {
            Ok(format!("/var/lib/{}/", text(u, COMPONENTS)?))
        } else {
            path(u)
        }
    })?;
    let working_folder = match u.int_in_range(0..=3)? {
        0 => Some(path(u)?),
        1 if !data_folders.is_empty() => Some(u.choose(&data_folders)?.clone()),
        _ => None,
    };
    Ok(ServiceUnit::HostWritten(UnitSpec {
        program: program(u)?,
        arguments: list(u, 6, |u| text(u, WORDS))?,
        environment: list(u, 3, |u| {
            Ok((text(u, &["HOME", "NODE_ENV", "lower", "LD_PRELOAD"])?, text(u, WORDS)?))
        })?,
        working_folder,
        user: if u.arbitrary()? {
            Some(text(u, &["prosody", "root", "debian-tor", "amnesia", "systemd-x"])?)
        } else {
            None
        },
        data_folders,
        setup_commands: list(u, 2, |u| {
            let mut command = vec![program(u)?];
            command.extend(list(u, 3, |u| text(u, WORDS))?);
            Ok(command)
        })?,
        login_shell: u.arbitrary()?,
    }))
}

fn description(u: &mut Unstructured) -> Result<ServiceInfo> {
    let ports = list(u, 4, |u| {
        Ok(PortRequest {
            port: port(u)?,
            protocol: if u.arbitrary()? { Protocol::Tcp } else { Protocol::Udp },
            purpose: text(u, &["web"])?,
        })
    })?;
    let target = match ports.first() {
        Some(p) if u.arbitrary()? => p.port,
        _ => port(u)?,
    };
    let unit = unit(u)?;
    let config_paths = list(u, 4, path)?;
    // Persistent paths: often one of the declared ones, or something inside it.
    let mut declared = config_paths.clone();
    if let ServiceUnit::HostWritten(spec) = &unit {
        declared.extend(spec.data_folders.iter().cloned());
    }
    let persistent_paths = list(u, 3, |u| match u.int_in_range(0..=2)? {
        0 if !declared.is_empty() => Ok(u.choose(&declared)?.clone()),
        1 if !declared.is_empty() => {
            Ok(format!("{}{}", u.choose(&declared)?, text(u, COMPONENTS)?))
        }
        _ => path(u),
    })?;
    Ok(ServiceInfo {
        name: text(u, &["web", "svc", "list", "tails-server", "reconcile", "x-", "Web"])?,
        name_in_gui: if u.arbitrary()? { Some(text(u, &["Web Site"])?) } else { None },
        description: text(u, &["A service", "line\nbreak"])?,
        client_application: text(u, &["tor-browser"])?,
        client_application_in_gui: None,
        documentation: text(u, &["https://example.org/"])?,
        unit,
        default_target_port: target,
        default_virtual_port: if u.arbitrary()? { Some(port(u)?) } else { None },
        icon_name: text(u, &["web-browser"])?,
        persistent_paths,
        options: list(u, 4, option)?,
        capabilities: Capabilities {
            packages: list(u, 3, |u| {
                text(u, &["lighttpd", "tor", "tor-", "lib.*", "nodejs", "openssh-server", "a+"])
            })?,
            npm_packages: list(u, 2, |u| {
                text(u, &["x@1.0.0", "@s/x@1.0.0", "x@^1", "x@latest", "x@1.0.0-rc.1", "file:x"])
            })?,
            config_paths,
            ports,
        },
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(info) = description(&mut Unstructured::new(data)) else { return };
    let problems = manifest::problems(&info);
    assert!(problems.len() <= 21, "problems are bounded");
    let specs = all_specs(&info);
    if !problems.is_empty() || !units::problems(&info, &specs).is_empty() {
        return;
    }
    // To see how deep the fuzzer gets: FUZZ_SHOW_ACCEPTED=1 prints each
    // description that passed every check.
    if std::env::var_os("FUZZ_SHOW_ACCEPTED").is_some() {
        eprintln!("accepted: {info:?}");
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
        caps.ports
            .iter()
            .any(|p| p.port == info.default_target_port && p.protocol == Protocol::Tcp),
        "the target port is a declared TCP port"
    );
    for persistent in &info.persistent_paths {
        let declared = caps.config_paths.iter().chain(match &info.unit {
            ServiceUnit::HostWritten(spec) => spec.data_folders.iter(),
            ServiceUnit::Packaged(_) => [].iter(),
        });
        assert!(
            declared.clone().any(|d| manifest::covers_persistent(d, persistent)),
            "{persistent:?} is kept but not declared"
        );
    }
    match &info.unit {
        ServiceUnit::Packaged(name) => assert!(units::check_packaged_name(name).is_ok()),
        ServiceUnit::HostWritten(spec) => {
            // The unit file renders, and a secret never reaches it.
            let values = specs.iter().map(|s| (s.name.clone(), "v".to_string())).chain(
                ["listen-address", "target-port", "onion-address"]
                    .map(|n| (n.to_string(), "v".to_string())),
            );
            let rendered = units::render(&info.name, spec, &values.collect(), false);
            if let Ok(unit) = rendered {
                assert!(unit.contains("NoNewPrivileges=yes") && unit.contains("IPAddressDeny=any"));
                // A user it names, a login account of its own (contract 0.4),
                // or a dynamic one: never root.
                let login =
                    format!("User={}\n", tails_server_core::system::accounts::login_of(&info.name));
                assert!(
                    spec.user.is_some()
                        || (spec.login_shell && unit.contains(&login))
                        || unit.contains("DynamicUser=yes")
                );
                assert!(!unit.contains("User=root\n"));
            }
            let secrets: Vec<&str> = specs
                .iter()
                .filter(|s| tails_server_core::options::is_secret(s))
                .map(|s| s.name.as_str())
                .collect();
            let words = spec
                .arguments
                .iter()
                .chain(spec.setup_commands.iter().flatten())
                .chain(spec.environment.iter().map(|(_, v)| v));
            for word in words {
                let _ = units::expand(word, &|name| {
                    assert!(
                        !secrets.contains(&name),
                        "the secret {name} is a placeholder in the unit"
                    );
                    Ok(String::new())
                });
            }
        }
    }
    // What consent shows is one escaped line per capability.
    let requested: BTreeSet<_> = state::requested(&info);
    for line in consent::describe(&requested, &info, None, false).iter().map(|asked| asked.line()) {
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }
});
