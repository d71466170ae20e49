//! System backends: what the host does to the machine once the broker has
//! allowed it. Each reads and writes under the `--root` prefix.

pub mod accounts;
pub mod firewall;
pub mod mounts;
pub mod npm;
pub mod packages;
pub mod systemd;

use std::fmt;

use serde::{Deserialize, Serialize};

/// A port's protocol: what the firewall opens, and what a port capability
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// Running on Tails (its version file exists).
pub fn on_tails() -> bool {
    std::path::Path::new("/etc/amnesia/version").exists()
}
