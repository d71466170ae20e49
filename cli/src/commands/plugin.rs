//! `plugin add|list|show|remove|new|try` and `list`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use tails_server_core::display;
use tails_server_core::plugins;
use tails_server_types::{Asked, Inspection};

use crate::backend::Backend;

/// `plugin add`: what the file asks for, the question, then the add.
pub fn add(backend: &dyn Backend, file: &Path, yes: bool, deny: &[String]) -> Result<()> {
    let deny = plugins::refusals(deny).map_err(|e| anyhow!("--deny {e}"))?;
    let file = &tails_server_core::shipped::resolve(file)?;
    let shown = display::path(file);
    let said = backend.add_plugin(file, &deny, &mut |inspection| {
        check_deny(inspection, &deny)?;
        consented(inspection, &shown, &deny, yes)
    })?;
    println!("{said}");
    Ok(())
}

/// Every `--deny` must name something the plugin asks for.
fn check_deny(inspection: &Inspection, deny: &[String]) -> Result<()> {
    let asked: BTreeSet<&str> = inspection.requested.iter().map(String::as_str).collect();
    if let Some(unknown) = deny.iter().find(|d| !asked.contains(d.as_str())) {
        bail!(
            "--deny {unknown}: `{}` does not ask for that; it asks for: {}",
            inspection.name,
            asked.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

/// One line each, as a terminal shows capabilities.
fn lines<'a>(asked: impl Iterator<Item = &'a Asked>) -> String {
    asked.map(Asked::line).collect::<Vec<_>>().join("\n")
}

/// Show what the plugin asks for and ask (unless `--yes`, or nothing needs
/// a yes). Whether to go on.
fn consented(inspection: &Inspection, shown: &str, deny: &[String], yes: bool) -> Result<bool> {
    if inspection.changes_nothing(!deny.is_empty()) {
        return Ok(true);
    }
    println!("Plugin: {} — {}", inspection.name, inspection.description);
    println!("File:   {shown} (sha256 {})", inspection.sha256);
    println!("From:   {}", inspection.publisher);
    if inspection.older_contract {
        println!(
            "Built for the older contract {}: it runs through a compatibility layer, under today's rules.",
            inspection.contract
        );
    }
    if let Some(old) = &inspection.replaces {
        println!("This replaces the added build (sha256 {old}).");
        if !inspection.no_longer_asks.is_empty() {
            println!("It no longer asks to:\n{}", lines(inspection.no_longer_asks.iter()));
        }
        for change in &inspection.changes {
            println!("  - {change}");
        }
    }
    let (refused, asked): (Vec<&Asked>, Vec<&Asked>) =
        inspection.asks.iter().partition(|a| deny.contains(&a.capability));
    if !refused.is_empty() {
        println!("Refused (--deny):\n{}", lines(refused.into_iter()));
    }
    if !asked.is_empty() {
        let intro =
            if inspection.replaces.is_some() { "It now also asks to:" } else { "It asks to:" };
        println!("{intro}\n{}", lines(asked.into_iter()));
    } else if inspection.replaces.is_some() {
        println!("It asks for nothing new, but its code is different: it will act with the permissions granted before.");
    } else {
        println!("It asks for nothing.");
    }
    let question = inspection.question(deny);
    Ok(match question {
        None => true,
        Some(_) if yes => {
            println!("Granted (--yes).");
            true
        }
        Some(question) => super::ask(&question),
    })
}

/// The shipped plugins, a line each, and whether they are added.
pub fn available(backend: &dyn Backend, json: bool) -> Result<()> {
    let rows = backend.available()?;
    if json {
        println!("{}", display::json(&rows)?);
    } else if rows.is_empty() {
        println!("No plugins are shipped in {}.", tails_server_core::shipped::dir().display());
    } else {
        for r in rows {
            println!("{:<16} {:<22} {}", r.name, r.added, display::line(&r.description));
        }
        println!("\nAdd one with `tails-server plugin add NAME`.");
    }
    Ok(())
}

pub fn list_plugins(backend: &dyn Backend, json: bool) -> Result<()> {
    let empty = "No plugins added. Add one with `tails-server plugin add NAME` (see `plugin available`) or `plugin add FILE.wasm`.";
    print_rows(&backend.plugins()?, json, empty, |r| {
        let build = &r.sha256[..r.sha256.len().min(12)];
        format!("{:<16} {build}  tails:server@{}  {}", r.name, r.contract, r.description)
    })
}

pub fn list_services(backend: &dyn Backend, json: bool) -> Result<()> {
    let empty = "No services yet. Add one with `tails-server plugin add FILE.wasm`.";
    print_rows(&backend.list()?, json, empty, |r| {
        let enabled = if r.enabled { "enabled" } else { "disabled" };
        format!("{:<16} {enabled:<9} {}", r.name, display::line(&r.description))
    })
}

/// A list document: as JSON, or `empty` when it has no rows, or a line per row.
fn print_rows<T: serde::Serialize>(
    rows: &[T],
    json: bool,
    empty: &str,
    line: impl Fn(&T) -> String,
) -> Result<()> {
    if json {
        println!("{}", display::json(&rows)?);
    } else if rows.is_empty() {
        println!("{empty}");
    } else {
        for r in rows {
            println!("{}", line(r));
        }
    }
    Ok(())
}

pub fn show(backend: &dyn Backend, name: &str, json: bool) -> Result<()> {
    let shown = backend.plugin(name)?;
    if json {
        println!("{}", display::json(&shown)?);
        return Ok(());
    }
    println!("{name} — {}", shown.description);
    println!("from:     {}", shown.from);
    println!("sha256:   {}", shown.sha256);
    println!("contract: tails:server@{}", shown.contract);
    println!("enabled:  {}", shown.enabled);
    println!("Capabilities:");
    for cap in &shown.capabilities {
        let status = if cap.granted { "granted" } else { "refused" };
        println!("  {status:<8} {}", cap.capability);
    }
    Ok(())
}

pub fn remove(backend: &dyn Backend, name: &str) -> Result<()> {
    println!("{}", backend.remove_plugin(name)?);
    Ok(())
}

/// `plugin new`: the project, and how to build and try it.
pub fn new_project(
    name: &str,
    language: tails_server_core::authoring::Language,
    parent: &Path,
) -> Result<()> {
    let created = tails_server_core::authoring::new_project(name, language, parent)?;
    let folder = display::path(&created.folder);
    println!("Wrote {folder}: {}.", created.files.join(", "));
    println!("Next: `{folder}/build` makes {name}.wasm; then `sudo tails-server plugin try {folder}/{name}.wasm`.");
    Ok(())
}

/// `plugin try`: what the trial saw, as it goes; fails when a plugin was not reached.
pub fn try_plugins(files: &[std::path::PathBuf], keep: bool) -> Result<()> {
    let installed = tails_server_core::authoring::before_trying(files)?;
    let program = std::env::current_exe()?;
    if !tails_server_trial::run(&program, files, &installed, keep, &mut |line| println!("{line}"))?
    {
        bail!("not every plugin was reached through Tor: see above");
    }
    Ok(())
}
