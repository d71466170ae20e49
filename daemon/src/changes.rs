//! The signal that a service changed (`org.tails.Server1.ServiceChanged`),
//! emitted by whoever changed it: a request, a job, the tor watcher. Apart
//! from the server, so that jobs and the watcher need not know it; the
//! server's interface declares the signal for introspection.

use tails_server_dbus::{INTERFACE, PATH};

/// Tell whoever watches that a service changed.
pub async fn changed(conn: &zbus::Connection, service: &str) {
    let _ = conn.emit_signal(None::<()>, PATH, INTERFACE, "ServiceChanged", &(service,)).await;
}
