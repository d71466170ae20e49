//! The onion-service step of the service engine: the service's key and
//! clients, publishing and unpublishing through tor, and reconciling what tor
//! holds with what is enabled.

use std::time::Duration;
use tails_server_types::{Hinted, Next};

use anyhow::{bail, Context as _, Result};

use crate::bindings::tails::server::types::OptionValue;
use crate::context::{Context, Service};
use crate::options;
use crate::state::ServiceState;
use crate::tor::control::Controller;
pub use crate::tor::control::Uploads;
use crate::tor::detect::{self, Found};
use crate::tor::keys::{ClientKey, OnionKey};

/// Name of the client made at the first enable when client authorization is on.
pub const FIRST_CLIENT: &str = "default";

fn seconds_from_env(var: &str, default: u64) -> Duration {
    Duration::from_secs(std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default))
}

/// The service's key, made (and stored by the caller) on first use.
pub fn ensure_key(state: &mut ServiceState) -> Result<(OnionKey, bool)> {
    match &state.onion_key {
        Some(blob) => {
            Ok((OnionKey::from_base64(blob).context("the stored onion key is damaged")?, false))
        }
        None => {
            let key = OnionKey::generate();
            state.onion_key = Some(key.to_base64());
            Ok((key, true))
        }
    }
}

/// `<56 characters>.onion`, once the service has a key.
pub fn address(state: &ServiceState) -> Option<String> {
    let key = OnionKey::from_base64(state.onion_key.as_ref()?).ok()?;
    Some(format!("{}.onion", key.address()))
}

fn service_id(state: &ServiceState) -> Option<String> {
    address(state).map(|a| a.trim_end_matches(".onion").to_string())
}

pub fn client_authorization(service: &Service) -> bool {
    service.value(options::CLIENT_AUTHORIZATION) != Some(&OptionValue::Boolean(false))
}

/// The onion port (a standard option, so always present).
pub fn virtual_port(service: &Service) -> u16 {
    match service.value(options::VIRTUAL_PORT) {
        Some(OptionValue::Port(p)) => *p,
        _ => service.record.info.default_target_port,
    }
}

/// With client authorization on and no client yet, make the first one.
pub fn ensure_first_client(service: &mut Service) -> Option<String> {
    if client_authorization(service) && service.state.clients.is_empty() {
        service.state.clients.insert(FIRST_CLIENT.into(), ClientKey::generate().private_base32());
        return Some(FIRST_CLIENT.into());
    }
    None
}

/// Connect to the tor to use (see `tor::detect`); `launch` allows starting our own.
pub async fn connect(ctx: &Context, launch: bool) -> Result<Found> {
    detect::find(&ctx.state.tor_settings()?, &ctx.state.own_tor_dir(), launch).await
}

/// Connect and wait until that tor is bootstrapped.
pub async fn connect_ready(ctx: &Context) -> Result<Controller> {
    let mut found = connect(ctx, true).await?;
    found
        .controller
        .wait_bootstrapped(seconds_from_env("TAILS_SERVER_TOR_TIMEOUT_SECS", 60))
        .await?;
    Ok(found.controller)
}

/// Publish (or publish again, with the current clients and ports) at the
/// service's own address, and wait for its descriptor as `wait` says.
pub async fn publish(tor: &mut Controller, service: &Service, wait: Uploads) -> Result<String> {
    Ok(publish_all(tor, &[service], wait).await?.remove(0))
}

/// Publish several services at once: every ADD_ONION first, then one wait
/// for all their descriptors (after a tor restart, all come back together).
pub async fn publish_all(
    tor: &mut Controller,
    services: &[&Service],
    wait: Uploads,
) -> Result<Vec<String>> {
    let held = tor.detached().await?;
    tor.subscribe_hs_desc().await?;
    let mut ids = Vec::new();
    for service in services {
        let key = OnionKey::from_base64(
            service.state.onion_key.as_ref().context("the service has no onion key yet")?,
        )?;
        let id = key.address();
        let clients: Vec<String> = if client_authorization(service) {
            let keys: Result<Vec<String>> = service
                .state
                .clients
                .values()
                .map(|k| Ok(ClientKey::from_base32(k)?.public_base32()))
                .collect();
            keys?
        } else {
            Vec::new()
        };
        if client_authorization(service) && clients.is_empty() {
            return Err(Hinted::new(
                format!(
                    "client authorization is on but {} has no clients; add one with {{next}}",
                    service.name
                ),
                [Next::AddClient { service: service.name.clone() }],
            )
            .into());
        }
        // Re-adding a live key is a collision: take the old one down first.
        if held.contains(&id) {
            tor.del_onion(&id).await?;
        }
        let got = tor
            .add_onion(
                &key,
                virtual_port(service),
                service.record.info.default_target_port,
                &clients,
            )
            .await?;
        if got != id {
            let _ = tor.del_onion(&got).await;
            bail!("tor published {got} instead of {id}");
        }
        ids.push(id);
    }
    tor.wait_uploaded(&ids, wait, seconds_from_env("TAILS_SERVER_PUBLISH_TIMEOUT_SECS", 90))
        .await?;
    Ok(ids.into_iter().map(|id| format!("{id}.onion")).collect())
}

/// Connect to a bootstrapped tor (starting our own if none answers), publish
/// the service, and return its address.
pub fn publish_now(ctx: &Context, service: &Service, wait: Uploads) -> Result<String> {
    crate::blocking::block_on(async {
        let mut tor = connect_ready(ctx).await?;
        publish(&mut tor, service, wait).await
    })
}

/// Take the service's onion down if tor holds it; whether it did.
pub async fn unpublish(tor: &mut Controller, state: &ServiceState) -> Result<bool> {
    let Some(id) = service_id(state) else { return Ok(false) };
    if tor.detached().await?.contains(&id) {
        tor.del_onion(&id).await?;
        return Ok(true);
    }
    Ok(false)
}

/// Is the service's onion held by a tor that answers now? Never starts a tor.
pub fn is_published(ctx: &Context, state: &ServiceState) -> bool {
    let Some(id) = service_id(state) else { return false };
    crate::blocking::block_on(async {
        match connect(ctx, false).await {
            Ok(mut found) => {
                found.controller.detached().await.map(|d| d.contains(&id)).unwrap_or(false)
            }
            Err(_) => false,
        }
    })
}

/// Make tor hold exactly the enabled services: publish the enabled ones it
/// lacks (after a tor restart), take down the disabled ones it still holds.
/// Returns one line per change.
pub async fn reconcile(ctx: &Context, tor: &mut Controller) -> Result<Vec<String>> {
    let mut report = Vec::new();
    let held = tor.detached().await?;
    let mut missing = Vec::new();
    for name in ctx.state.plugin_names()? {
        let service = ctx.service(&name)?;
        let Some(id) = service_id(&service.state) else { continue };
        match (service.state.enabled, held.contains(&id)) {
            (true, false) => missing.push(service),
            (false, true) => {
                tor.del_onion(&id).await?;
                report.push(format!("{name}: disabled, its onion service was removed"));
            }
            _ => {}
        }
    }
    if !missing.is_empty() {
        let services: Vec<&Service> = missing.iter().collect();
        let names: Vec<&str> = missing.iter().map(|s| s.name.as_str()).collect();
        // Reachable is enough: the descriptors are the ones tor served
        // before it stopped (no client was removed meanwhile: that needs tor).
        let addresses = publish_all(tor, &services, Uploads::Reachable)
            .await
            .with_context(|| format!("publishing {} again", names.join(", ")))?;
        for (name, address) in names.iter().zip(addresses) {
            report.push(format!("{name}: published again at {address}"));
        }
    }
    Ok(report)
}
