//! Capability kinds and the pure "does this grant allow that request" checks.
//!
//! A capability exists only if the plugin declared it (in `describe`) AND the
//! user granted it (at `plugin add`). Everything here is pure so that it can be
//! tested with tables; the broker (`super::Broker`) is the one place that calls
//! it before acting.

//! One file per kind: `paths` (files and folders, and the places no plugin
//! may write), `packages` (Debian package names), `npm`, `ports` and `units`
//! (what a service's unit may run and the unit the host writes).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod npm;
pub mod packages;
pub mod paths;
pub mod ports;
pub mod units;

/// A port's protocol (the firewall's too).
pub use crate::system::Proto;
pub use npm::NpmSpec;
pub use packages::validate_package_name;
pub use paths::{
    owned_place_problem, owned_places_problems, resolve_system_links, validate_declared_path,
    SysPath,
};
pub use ports::reserved_port;

/// One thing a plugin may do. Shown to the user as `package:NAME`,
/// `npm:NAME@VERSION`, `file:/PATH`, `folder:/PATH/` or `port:N/tcp`, the same
/// syntax `--deny` takes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Capability {
    Package {
        name: String,
    },
    /// An npm package at an exact version, `NAME@VERSION`.
    NpmPackage {
        spec: String,
    },
    /// A path ending in `/` is a folder and covers everything below it.
    ConfigPath {
        path: String,
    },
    Port {
        port: u16,
        protocol: Proto,
    },
    /// The unit that runs the service: `spec` is what it runs (empty for a
    /// unit a package ships), so that a grant covers exactly that command.
    Unit {
        name: String,
        spec: String,
    },
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Package { name } => write!(f, "package:{name}"),
            Capability::NpmPackage { spec } => write!(f, "npm:{spec}"),
            Capability::ConfigPath { path } if path.ends_with('/') => write!(f, "folder:{path}"),
            Capability::ConfigPath { path } => write!(f, "file:{path}"),
            Capability::Port { port, protocol } => write!(f, "port:{port}/{protocol}"),
            Capability::Unit { name, .. } => write!(f, "unit:{name}"),
        }
    }
}

impl FromStr for Capability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("`{s}` is not a capability; write package:NAME, npm:NAME@VERSION, file:/PATH, folder:/PATH/, port:N/tcp|udp or unit:NAME")
        };
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "package" => Ok(Capability::Package { name: rest.into() }),
            "npm" => Ok(Capability::NpmPackage { spec: rest.into() }),
            "file" | "folder" => Ok(Capability::ConfigPath { path: rest.into() }),
            "unit" => Ok(Capability::Unit { name: rest.into(), spec: String::new() }),
            "port" => {
                let (port, proto) = rest.split_once('/').ok_or_else(bad)?;
                let port = port.parse().map_err(|_| bad())?;
                let protocol = match proto {
                    "tcp" => Proto::Tcp,
                    "udp" => Proto::Udp,
                    _ => return Err(bad()),
                };
                Ok(Capability::Port { port, protocol })
            }
            _ => Err(bad()),
        }
    }
}

/// Why a request was refused. The message is what the plugin (and the audit
/// log) sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request is malformed, whatever the grants.
    Invalid(String),
    NotDeclared(String),
    NotGranted(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Invalid(m) => f.write_str(m),
            Refusal::NotDeclared(what) => write!(f, "{what} was not declared by the plugin"),
            Refusal::NotGranted(what) => {
                write!(f, "{what} was declared but not granted by the user")
            }
        }
    }
}

/// A request a plugin makes of the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    Package(&'a str),
    NpmPackage(&'a str),
    Path(&'a SysPath),
    Port(u16, Proto),
}

impl fmt::Display for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Package(name) => write!(f, "package `{name}`"),
            Request::NpmPackage(spec) => write!(f, "npm package `{spec}`"),
            Request::Path(path) => write!(f, "path `{}`", path.as_str()),
            Request::Port(port, proto) => write!(f, "port {port}/{proto}"),
        }
    }
}

impl Capability {
    /// Does this single capability cover the request?
    pub fn covers(&self, request: &Request) -> bool {
        match (self, request) {
            (Capability::Package { name }, Request::Package(wanted)) => name == wanted,
            (Capability::NpmPackage { spec }, Request::NpmPackage(wanted)) => spec == wanted,
            (Capability::Port { port, protocol }, Request::Port(p, proto)) => {
                port == p && protocol == proto
            }
            (Capability::ConfigPath { path }, Request::Path(wanted)) => {
                match path.strip_suffix('/') {
                    // A folder covers what is strictly below it, not itself.
                    Some(folder) => wanted
                        .as_str()
                        .strip_prefix(folder)
                        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/')),
                    None => path == wanted.as_str(),
                }
            }
            _ => false,
        }
    }
}

/// The one check: declared and granted, or refused.
pub fn check(
    declared: &BTreeSet<Capability>,
    granted: &BTreeSet<Capability>,
    request: &Request,
) -> Result<(), Refusal> {
    if !declared.iter().any(|c| c.covers(request)) {
        return Err(Refusal::NotDeclared(request.to_string()));
    }
    if !granted.iter().any(|c| c.covers(request) && declared.contains(c)) {
        return Err(Refusal::NotGranted(request.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(list: &[&str]) -> BTreeSet<Capability> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn check_requires_declared_and_granted() {
        let declared = caps(&[
            "package:mumble-server",
            "package:extra",
            "npm:hello@1.0.0",
            "npm:extra@1.0.0",
            "file:/etc/mumble-server.ini",
            "folder:/etc/lighttpd/",
            "port:64738/tcp",
        ]);
        let granted = caps(&[
            "package:mumble-server",
            "npm:hello@1.0.0",
            "file:/etc/mumble-server.ini",
            "folder:/etc/lighttpd/",
            "port:64738/tcp",
            "package:sneaky",
        ]);
        let path = |p: &str| SysPath::parse(p).unwrap();
        let ini = path("/etc/mumble-server.ini");
        let in_folder = path("/etc/lighttpd/conf.d/x.conf");
        let folder_itself = path("/etc/lighttpd");
        let sibling = path("/etc/lighttpdx/y");
        let passwd = path("/etc/passwd");
        let table: &[(Request, Result<(), &str>)] = &[
            (Request::Package("mumble-server"), Ok(())),
            (Request::Package("extra"), Err("not granted")),
            // Granted (a stale or forged grant) but not declared: still refused.
            (Request::Package("sneaky"), Err("not declared")),
            (Request::Package("netcat"), Err("not declared")),
            (Request::NpmPackage("hello@1.0.0"), Ok(())),
            // Another version of a granted package is another build: not covered.
            (Request::NpmPackage("hello@1.0.1"), Err("not declared")),
            (Request::NpmPackage("extra@1.0.0"), Err("not granted")),
            // A Debian package and an npm package of the same name are different things.
            (Request::Package("hello"), Err("not declared")),
            (Request::NpmPackage("mumble-server"), Err("not declared")),
            (Request::Path(&ini), Ok(())),
            (Request::Path(&in_folder), Ok(())),
            (Request::Path(&folder_itself), Err("not declared")),
            (Request::Path(&sibling), Err("not declared")),
            (Request::Path(&passwd), Err("not declared")),
            (Request::Port(64738, Proto::Tcp), Ok(())),
            (Request::Port(64738, Proto::Udp), Err("not declared")),
            (Request::Port(4444, Proto::Tcp), Err("not declared")),
        ];
        for (request, expected) in table {
            let got = check(&declared, &granted, request);
            match (expected, &got) {
                (Ok(()), Ok(())) => {}
                (Err(word), Err(refusal)) => {
                    assert!(refusal.to_string().contains(word), "{request}: {refusal}")
                }
                _ => panic!("{request}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn capability_syntax_round_trips() {
        for text in [
            "package:mumble-server",
            "npm:@scope/x@1.2.3",
            "file:/etc/x.ini",
            "folder:/etc/x/",
            "port:80/tcp",
            "port:53/udp",
            "unit:x.service",
        ] {
            assert_eq!(text.parse::<Capability>().unwrap().to_string(), text);
        }
        for bad in ["mumble", "port:80", "port:x/tcp", "port:80/sctp", "shell:rm"] {
            assert!(bad.parse::<Capability>().is_err(), "{bad}");
        }
    }
}
