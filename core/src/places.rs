//! Tails Server's own places on the system: what it writes there, and so
//! what no plugin may ask to write (`broker::caps`).

/// Its state: plugins, grants, options, keys (`--state-dir` moves it).
pub const STATE: &str = "/var/lib/tails-server";
/// Its configuration.
pub const CONFIG: &str = "/etc/tails-server";
/// Its caches (npm's downloads).
pub const CACHE: &str = "/var/cache/tails-server";
/// Where every service's npm folder lives.
pub const NPM: &str = "/opt/tails-server";
