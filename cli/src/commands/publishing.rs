//! Onion-service commands: clients, connection info, a new address, which
//! tor is used, reconcile.

use anyhow::Result;

use tails_server_core::context::Context;
use tails_server_core::display;
use tails_server_core::requests::admin;
use tails_server_types::ConnectionInfo;

use crate::backend::Backend;

pub fn add(backend: &dyn Backend, name: &str, client: &str) -> Result<()> {
    let (said, info) = backend.client_add(name, client)?;
    println!("{said}");
    if let Some(info) = info {
        print_connection_info(&info, name, false, true)?;
    }
    Ok(())
}

pub fn list(backend: &dyn Backend, name: &str, as_json: bool) -> Result<()> {
    let names = backend.client_list(name)?;
    if as_json {
        println!("{}", display::json(&names)?);
    } else if names.is_empty() {
        println!("{name} has no clients yet (the first one is made at enable).");
    } else {
        for client in names {
            println!("{client}");
        }
    }
    Ok(())
}

pub fn remove(backend: &dyn Backend, name: &str, client: &str) -> Result<()> {
    println!("{}", backend.client_remove(name, client)?);
    Ok(())
}

pub fn connection_info(
    backend: &dyn Backend,
    name: &str,
    client: Option<&str>,
    as_json: bool,
    qr: bool,
) -> Result<()> {
    print_connection_info(&backend.connection_info(name, client)?, name, as_json, qr)
}

/// Address and port, each client's key (base32 for Tor Browser, and the
/// `.auth_private` line), the plugin's own text, QR codes.
fn print_connection_info(info: &ConnectionInfo, name: &str, as_json: bool, qr: bool) -> Result<()> {
    if let Some(why) = &info.text_missing {
        eprintln!("Warning: {why}");
    }
    if as_json {
        println!("{}", display::json(&info)?);
        return Ok(());
    }
    println!("Address: {}", info.address);
    println!("Port:    {}", info.port);
    if qr {
        print!("{}", qr_code(&info.address));
    }
    if !info.client_authorization {
        println!("Client authorization is off: anyone who knows this address can connect. Share it only with people you trust.");
    }
    for client in &info.clients {
        println!("\nClient `{}`:", client.name);
        println!("  Key for Tor Browser:   {}", client.private_key);
        println!("  Line for other tors:   {}", client.auth_private);
        println!("  (in <ClientOnionAuthDir>/{name}.auth_private)");
        if qr {
            print!("{}", qr_code(&client.private_key));
        }
    }
    if let Some(text) = &info.text {
        print!("\n{}", display::plugins_words(name, text));
    }
    Ok(())
}

fn qr_code(data: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => {
            code.render::<qrcode::render::unicode::Dense1x2>().quiet_zone(true).build() + "\n"
        }
        Err(_) => String::new(),
    }
}

pub fn rotate_address(backend: &dyn Backend, name: &str, yes: bool) -> Result<()> {
    println!("{}", backend.rotate_address(name, &|question| yes || super::ask(question))?);
    Ok(())
}

pub fn tor_status(backend: &dyn Backend, as_json: bool) -> Result<()> {
    let status = backend.tor_status()?;
    if as_json {
        println!("{}", display::json(&status)?);
    } else {
        println!("tor: {} ({}, {} authentication)", status.tor, status.control, status.auth);
        println!(
            "bootstrapped: {} ({}%: {})",
            status.bootstrapped, status.progress, status.summary
        );
    }
    Ok(())
}

pub fn tor_use(ctx: &Context, control: &str, password: Option<String>) -> Result<()> {
    println!("{}", admin::tor_use(ctx, control, password)?);
    Ok(())
}

pub fn tor_stop(ctx: &Context) -> Result<()> {
    println!("{}", admin::tor_stop(ctx)?);
    Ok(())
}

pub fn reconcile(ctx: &Context) -> Result<()> {
    for line in admin::reconcile(ctx)? {
        println!("{line}");
    }
    Ok(())
}
