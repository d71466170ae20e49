//! System backends: what the host does to the machine once the broker has
//! allowed it. Each reads and writes under the `--root` prefix.

pub mod accounts;
pub mod firewall;
pub mod mounts;
pub mod npm;
pub mod packages;
pub mod systemd;

/// Running on Tails (its version file exists).
pub fn on_tails() -> bool {
    std::path::Path::new("/etc/amnesia/version").exists()
}
