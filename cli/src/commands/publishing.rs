//! Onion-service commands: clients, connection info, a new address, which
//! tor is used, reconcile.

use anyhow::{bail, Result};
use serde_json::json;

use tails_server_core::context::{Context, Service};
use tails_server_core::onion;
use tails_server_core::options::valid_name;
use tails_server_core::runtime::bindings::tails::server::types::{ClientCredential, ConnectionRequest};
use tails_server_core::tor::block_on;
use tails_server_core::tor::detect::TorSettings;
use tails_server_core::tor::keys::ClientKey;
use tails_server_core::{consent, display, options};

/// The most of a plugin's connection text shown.
const MAX_CONNECTION_TEXT: usize = 8 * 1024;

/// A plugin's text, cut at the limit (on a character boundary).
fn bounded(text: &str) -> &str {
    match text.char_indices().nth(MAX_CONNECTION_TEXT) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Publish the service again (with its current clients and ports) if it is enabled.
fn republish_if_enabled(ctx: &Context, service: &Service) -> Result<()> {
    if service.state.enabled {
        let address = onion::publish_now(ctx, service)?;
        println!("Published again at {address}.");
    }
    Ok(())
}

pub fn add(ctx: &Context, name: &str, client: &str) -> Result<()> {
    let _lock = ctx.state.lock()?;
    let mut service = ctx.service(name)?;
    if !valid_name(client) {
        bail!("client name `{client}` must be 1-40 lower-case letters, digits and `-`, starting with a letter");
    }
    if service.state.clients.contains_key(client) {
        bail!("{name} already has a client named `{client}`");
    }
    service.state.clients.insert(client.into(), ClientKey::generate().private_base32());
    republish_if_enabled(ctx, &service)?;
    ctx.save_service(name, &service.state)?;
    println!("Client `{client}` added.");
    if service.state.enabled {
        print_connection_info(ctx, &service, Some(client), false, true)?;
    } else {
        println!("Its key is shown by `tails-server {name} connection-info {client}` once the service is enabled.");
    }
    Ok(())
}

pub fn list(ctx: &Context, name: &str, as_json: bool) -> Result<()> {
    let service = ctx.service(name)?;
    let names: Vec<&String> = service.state.clients.keys().collect();
    if as_json {
        println!("{}", serde_json::to_string_pretty(&names)?);
    } else if names.is_empty() {
        println!("{name} has no clients yet (the first one is made at enable).");
    } else {
        for client in names {
            println!("{client}");
        }
    }
    Ok(())
}

pub fn remove(ctx: &Context, name: &str, client: &str) -> Result<()> {
    let _lock = ctx.state.lock()?;
    let mut service = ctx.service(name)?;
    if !service.state.clients.contains_key(client) {
        let known: Vec<&str> = service.state.clients.keys().map(String::as_str).collect();
        bail!("{name} has no client `{client}` (clients: {})", if known.is_empty() { "none".into() } else { known.join(", ") });
    }
    if service.state.clients.len() == 1 && service.state.enabled && onion::client_authorization(&service) {
        bail!("`{client}` is the last client of {name}; add another one first, or disable the service");
    }
    service.state.clients.remove(client);
    // Re-published without the key, the removed client can no longer connect.
    republish_if_enabled(ctx, &service)?;
    ctx.save_service(name, &service.state)?;
    println!("Client `{client}` removed.");
    Ok(())
}

pub fn connection_info(ctx: &Context, name: &str, client: Option<&str>, as_json: bool, qr: bool) -> Result<()> {
    let service = ctx.service(name)?;
    if let Some(client) = client {
        if !service.state.clients.contains_key(client) {
            bail!("{name} has no client `{client}`; see `tails-server {name} client list`");
        }
    }
    print_connection_info(ctx, &service, client, as_json, qr)
}

/// Address and port, each client's key (base32 for Tor Browser, and the
/// `.auth_private` line), the plugin's own text, QR codes.
pub fn print_connection_info(ctx: &Context, service: &Service, only: Option<&str>, as_json: bool, qr: bool) -> Result<()> {
    let address = match onion::address(&service.state) {
        Some(address) if service.state.enabled => address,
        _ => bail!("{} is not published yet, so it has no onion address to share; enable it first with `tails-server {} enable`", service.name, service.name),
    };
    let port = onion::virtual_port(service);
    let auth = onion::client_authorization(service);
    let clients: Vec<(String, ClientKey)> = if auth {
        service
            .state
            .clients
            .iter()
            .filter(|(n, _)| only.is_none_or(|o| o == n.as_str()))
            .map(|(n, k)| Ok((n.clone(), ClientKey::from_base32(k)?)))
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    let request = ConnectionRequest {
        address: address.clone(),
        virtual_port: port,
        clients: clients.iter().map(|(n, k)| ClientCredential { name: n.clone(), private_key: k.private_base32() }).collect(),
        options: options::for_connection(&service.record.info, &service.specs, &service.state.options),
    };
    // The address and keys are the host's; the plugin only adds how to use
    // them. A plugin that fails or runs out of time here costs the user its
    // words, never the address and keys.
    let text = ctx.instance(service).and_then(|mut instance| instance.connection_info(&request));
    let (text, gui_text) = match &text {
        Ok(t) => (Some(bounded(&t.text)), Some(bounded(&t.gui_text))),
        Err(e) => {
            eprintln!("tails-server: warning: the plugin's own connection text cannot be shown: {e:#}");
            (None, None)
        }
    };
    if as_json {
        let clients: Vec<_> = clients
            .iter()
            .map(|(n, k)| json!({"name": n, "private-key": k.private_base32(), "auth-private": k.auth_private_line(&address)}))
            .collect();
        let value = json!({"address": address, "port": port, "client-authorization": auth, "clients": clients, "text": text, "gui-text": gui_text});
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("Address: {address}");
    println!("Port:    {port}");
    if qr {
        print!("{}", qr_code(&address));
    }
    if !auth {
        println!("Client authorization is off: anyone who knows this address can connect. Share it only with people you trust.");
    }
    for (client, key) in &clients {
        println!("\nClient `{client}`:");
        println!("  Key for Tor Browser:   {}", key.private_base32());
        println!("  Line for other tors:   {}", key.auth_private_line(&address));
        println!("  (in <ClientOnionAuthDir>/{}.auth_private)", service.name);
        if qr {
            print!("{}", qr_code(&key.private_base32()));
        }
    }
    if let Some(text) = text {
        println!("\n{}", display::text(text).trim_end());
    }
    Ok(())
}

fn qr_code(data: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::unicode::Dense1x2>().quiet_zone(true).build() + "\n",
        Err(_) => String::new(),
    }
}

pub fn rotate_address(ctx: &Context, name: &str, yes: bool) -> Result<()> {
    let _lock = ctx.state.lock()?;
    let mut service = ctx.service(name)?;
    let old = onion::address(&service.state);
    if let Some(old) = &old {
        println!("{name} is at {old}. A new address means every client needs the new one.");
        if !yes && !consent::ask("Make a new address?") {
            bail!("address unchanged");
        }
    }
    let old_state = service.state.clone();
    service.state.onion_key = None;
    onion::ensure_key(&mut service.state)?;
    if service.state.enabled {
        block_on(async {
            let mut tor = onion::connect_ready(ctx).await?;
            onion::unpublish(&mut tor, &old_state).await?;
            onion::publish(&mut tor, &service).await
        })?;
    }
    ctx.save_service(name, &service.state)?;
    println!("New address: {}", onion::address(&service.state).expect("made above"));
    Ok(())
}

pub fn tor_status(ctx: &Context, as_json: bool) -> Result<()> {
    let status = block_on(async {
        let mut found = onion::connect(ctx, false).await?;
        let (progress, summary) = found.controller.bootstrap().await?;
        anyhow::Ok((found.source, found.controller.endpoint.to_string(), found.method, progress, summary))
    });
    match status {
        Ok((source, endpoint, method, progress, summary)) => {
            if as_json {
                let value = json!({"tor": source, "control": endpoint, "auth": format!("{method:?}"), "bootstrapped": progress >= 100, "progress": progress, "summary": summary});
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("tor: {source} ({endpoint}, {method:?} authentication)");
                println!("bootstrapped: {} ({progress}%: {summary})", progress >= 100);
            }
            Ok(())
        }
        Err(e) => bail!("{e:#}\nEnabling a service will start Tails Server's own tor; or choose one with `tails-server tor use`."),
    }
}

pub fn tor_use(ctx: &Context, control: &str, password: Option<String>) -> Result<()> {
    let _lock = ctx.state.lock()?;
    let settings = if control == "auto" {
        TorSettings::default()
    } else {
        control.parse::<tails_server_core::tor::control::Endpoint>()?;
        TorSettings { control: Some(control.into()), password }
    };
    ctx.state.save_tor_settings(&settings)?;
    match &settings.control {
        Some(c) => println!("Using the tor at {c}."),
        None => println!("Searching for a tor again at each use."),
    }
    Ok(())
}

pub fn tor_stop(ctx: &Context) -> Result<()> {
    if tails_server_core::tor::detect::stop_own(&ctx.state.own_tor_dir())? {
        println!("Stopped Tails Server's own tor.");
    } else {
        println!("Tails Server's own tor is not running.");
    }
    Ok(())
}

pub fn reconcile(ctx: &Context) -> Result<()> {
    let _lock = ctx.state.lock()?;
    let report = block_on(async {
        let mut tor = onion::connect_ready(ctx).await?;
        onion::reconcile(ctx, &mut tor).await
    })?;
    if report.is_empty() {
        println!("Nothing to do: tor holds exactly the enabled services.");
    }
    for line in report {
        println!("{line}");
    }
    Ok(())
}
