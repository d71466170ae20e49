//! Integration tests: the real `tails-server` binary against real files, real
//! servers and a real (private) Tor network. One test binary, so that the Tor
//! network, which takes about 40 s to bootstrap, is started once and shared.

mod cli;
mod hostile_plugins;
mod onion_services;
mod plugin_configs;
mod sdk_languages;

use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tails_server_testkit::tornet::TorNet;
use tails_server_testkit::Sandbox;

pub const BIN: &str = env!("CARGO_BIN_EXE_tails-server");

/// The private Tor network, started by the first test that needs it. Its
/// nodes are owned by this process (`__OwningControllerProcess`), so they exit
/// with it.
pub fn tornet() -> &'static TorNet {
    static NET: OnceLock<TorNet> = OnceLock::new();
    NET.get_or_init(TorNet::start)
}

/// Tests that use the network share it; the one that restarts the service
/// tor has it alone.
fn tor_lock() -> &'static RwLock<()> {
    static LOCK: RwLock<()> = RwLock::new(());
    &LOCK
}

/// A sandbox whose `tails-server` drives the private network's service tor,
/// holding a share of the network until dropped.
pub struct TorSandbox<G> {
    sandbox: Sandbox,
    _guard: G,
}

impl<G> std::ops::Deref for TorSandbox<G> {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

fn with_service_tor() -> Sandbox {
    let mut sandbox = Sandbox::new(BIN);
    sandbox.env("TAILS_SERVER_TOR_CONTROL", &tornet().service_control());
    sandbox
}

pub fn sandbox_with_tor() -> TorSandbox<RwLockReadGuard<'static, ()>> {
    let sandbox = with_service_tor();
    TorSandbox { sandbox, _guard: tor_lock().read().unwrap_or_else(|e| e.into_inner()) }
}

/// For a test that restarts the service tor: no other test uses the network meanwhile.
pub fn exclusive_sandbox_with_tor() -> TorSandbox<RwLockWriteGuard<'static, ()>> {
    let sandbox = with_service_tor();
    TorSandbox { sandbox, _guard: tor_lock().write().unwrap_or_else(|e| e.into_inner()) }
}
