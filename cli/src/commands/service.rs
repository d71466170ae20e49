//! The commands of one service: info, status, options, enable, disable.
//! The work and its decisions are the core's (`requests`); these print.

use anyhow::{bail, Result};
use serde_json::Value;

use tails_server_core::context::Context;
use tails_server_core::display;
use tails_server_core::requests::admin;

use crate::backend::Backend;

pub fn info(
    backend: &dyn Backend,
    name: &str,
    details: bool,
    as_json: bool,
    reveal: bool,
) -> Result<()> {
    print_document(backend.info(name, details, reveal)?, as_json)
}

/// YAML for a person, or JSON.
fn print_document(document: impl serde::Serialize, as_json: bool) -> Result<()> {
    if as_json {
        println!("{}", display::json(&document)?);
    } else {
        let value = serde_json::to_value(document)?;
        print!("{}", serde_norway::to_string(&display::document(&value))?);
    }
    Ok(())
}

pub fn status(backend: &dyn Backend, name: &str, as_json: bool) -> Result<()> {
    print_document(backend.status(name)?, as_json)
}

pub fn get_option(backend: &dyn Backend, name: &str, option: &str, reveal: bool) -> Result<()> {
    let info = backend.info(name, true, reveal)?;
    let specs = info.details.map(|d| d.option_details).unwrap_or_default();
    let Some(spec) = specs.iter().find(|s| s.name == option) else {
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        bail!("{name} has no option `{option}`; its options are: {}", names.join(", "));
    };
    if spec.masked && !reveal {
        println!("******** (secret: add --show-secret to print it)");
    } else {
        let value = info.options.get(option).cloned().unwrap_or_default();
        println!("{}", display::line(&text_of(&value)));
    }
    Ok(())
}

/// An option's value as typed at the command line (`options::to_text`'s
/// form): strings bare.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn set_option(
    backend: &dyn Backend,
    name: &str,
    option: &str,
    value: Option<&str>,
    yes: bool,
) -> Result<()> {
    println!(
        "{}",
        backend.set_option(name, option, value, &|question| yes || super::ask(question))?
    );
    Ok(())
}

pub fn enable(backend: &dyn Backend, name: &str) -> Result<()> {
    println!("{}\n", backend.enable(name, true, super::print_progress)?);
    super::publishing::connection_info(backend, name, None, false, true)
}

pub fn disable(backend: &dyn Backend, name: &str) -> Result<()> {
    println!("{}", backend.enable(name, false, super::print_progress)?);
    Ok(())
}

pub fn repair(ctx: &Context) -> Result<()> {
    if let Some(words) = admin::repair(ctx)? {
        println!("{words}");
    }
    Ok(())
}

/// Disable every enabled service; say which could not be.
pub fn disable_all(backend: &dyn Backend) -> Result<()> {
    let (said, failed) = backend.disable_all(super::print_progress)?;
    if said.is_empty() && failed.is_empty() {
        println!("No service is enabled.");
    }
    for words in said {
        println!("{words}");
    }
    failures(&failed, "could not disable")
}

/// Say why each service failed, then fail naming them all.
fn failures(failed: &[(String, anyhow::Error)], what: &str) -> Result<()> {
    for (name, e) in failed {
        eprintln!("{name}: {e:#}");
    }
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|(name, _)| name.as_str()).collect();
        bail!("{what}: {}", names.join(", "));
    }
    Ok(())
}

/// At boot: bring back what Persistent Storage kept, finish what a crash
/// interrupted, enable the services whose autostart is on (the engine
/// decides; see `engine::autostart`), and say which could not be.
pub fn autostart(ctx: &Context, feature_on: bool) -> Result<()> {
    failures(&admin::autostart(ctx, feature_on)?, "autostart could not enable")
}
