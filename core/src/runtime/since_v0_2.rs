//! Plugins built for contract 0.2.0, through a shim that only converts types.
//!
//! Its imports are the current contract's with 0.2's types: each converts
//! and calls the current import, so every check stays in the broker (see
//! `shim`). Its exports are called and their results converted to the
//! current types. Where 0.3 says more than 0.2 could, the
//! 0.2 plugin gets the most confined reading: its `systemd-service` is a unit
//! one of its granted packages ships (`packaged`, checked against dpkg at
//! enable and confined by a drop-in), never one the host writes; its
//! `validate-option` does not see the onion address.

pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2",
        world: "tails:server/tails-service@0.2.0",
        exports: { default: async },
    });
}

use super::HostState;
use crate::bindings::tails::server as new;
use bindings::tails::server as old;

/// The contract version this module loads.
pub const VERSION: &str = "0.2.0";

super::shim::same_shapes!();

pub fn service_info(i: o::ServiceInfo) -> n::ServiceInfo {
    // 0.2 named a unit and wrote its configuration: the only reading that
    // asks for nothing 0.2 consent did not show is a unit its package ships.
    let unit = n::ServiceUnit::Packaged(i.systemd_service);
    super::shim::service_info!(i, unit)
}

/// 0.2's `validate-option` does not take the onion address.
pub async fn validate_option(
    service: &bindings::exports::tails::server::service::Guest,
    store: &mut wasmtime::Store<HostState>,
    name: &str,
    value: &n::OptionValue,
    _onion_address: &str,
) -> wasmtime::Result<Result<(), n::Error>> {
    service.call_validate_option(store, name, &value.into()).await.map(result)
}
