//! Plugins built for contract 0.3.0, through a shim that only converts types
//! (see `shim`). 0.4 added one thing a unit the host writes may ask for, a
//! login account (`login-shell`); a 0.3 plugin never asked for it and gets
//! none.

pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/v0.3",
        world: "tails:server/tails-service@0.3.0",
        exports: { default: async },
    });
}

use super::HostState;
use crate::bindings::tails::server as new;
use bindings::tails::server as old;

/// The contract version this module loads.
pub const VERSION: &str = "0.3.0";

super::shim::same_shapes!();

pub fn service_info(i: o::ServiceInfo) -> n::ServiceInfo {
    let unit = match i.unit {
        o::ServiceUnit::Packaged(name) => n::ServiceUnit::Packaged(name),
        o::ServiceUnit::HostWritten(s) => n::ServiceUnit::HostWritten(n::UnitSpec {
            program: s.program,
            arguments: s.arguments,
            environment: s.environment,
            working_folder: s.working_folder,
            user: s.user,
            data_folders: s.data_folders,
            setup_commands: s.setup_commands,
            login_shell: false,
        }),
    };
    super::shim::service_info!(i, unit)
}

pub async fn validate_option(
    service: &bindings::exports::tails::server::service::Guest,
    store: &mut wasmtime::Store<HostState>,
    name: &str,
    value: &n::OptionValue,
    onion_address: &str,
) -> wasmtime::Result<Result<(), n::Error>> {
    service.call_validate_option(store, name, &value.into(), onion_address).await.map(result)
}
