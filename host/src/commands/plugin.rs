//! `plugin add|list|show|remove` and `list`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};

use crate::broker::caps::Capability;
use crate::broker::Broker;
use crate::context::Context;
use crate::state::{self, Grant, PluginRecord};
use crate::{consent, manifest, options};

pub fn add(ctx: &Context, file: &Path, yes: bool, deny: &[String]) -> Result<()> {
    let deny: BTreeSet<Capability> = deny.iter().map(|d| d.parse().map_err(|e: String| anyhow!("--deny {e}"))).collect::<Result<_>>()?;
    let wasm = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let sha256 = state::sha256_hex(&wasm);
    let refuse = |why: anyhow::Error| anyhow!("refusing {}: {why:#}", file.display());

    let rt = ctx.runtime()?;
    let component = rt.compile_new(&wasm).map_err(refuse)?;
    // `describe` runs with nothing granted: a plugin that calls the broker
    // from it is refused like any other ungranted request.
    let label = file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let info = rt
        .instantiate(&component, &label, Broker::deny_all(&label, ctx.state.audit()))
        .and_then(|mut instance| instance.describe())
        .map_err(refuse)?;
    let problems = manifest::problems(&info);
    if !problems.is_empty() {
        bail!("refusing {}: its description has problems:\n  - {}", file.display(), problems.join("\n  - "));
    }
    let name = info.name.clone();
    let requested = state::requested(&info);
    if let Some(unknown) = deny.iter().find(|d| !requested.contains(d)) {
        bail!("--deny {unknown}: `{name}` does not ask for that; it asks for: {}", list(&requested));
    }

    let _lock = ctx.state.lock()?;
    let previous = ctx.state.record(&name)?;
    let previous_grant = ctx.state.grant(&name)?;
    if previous.as_ref().is_some_and(|p| p.sha256 == sha256) && deny.is_empty() {
        println!("{name} is already added (sha256 {sha256}).");
        return Ok(());
    }

    println!("Plugin: {name} — {}", info.description);
    println!("File:   {} (sha256 {sha256})", file.display());
    // On an upgrade, only what is new needs a yes; what was granted before
    // stays granted (or refused) as the user decided then.
    let (to_ask, kept) = match &previous {
        None => (requested.clone(), BTreeSet::new()),
        Some(old) => {
            println!("This replaces the added build (sha256 {}).", old.sha256);
            let old_requested = old.requested();
            let dropped: BTreeSet<_> = old_requested.difference(&requested).cloned().collect();
            if !dropped.is_empty() {
                println!("It no longer asks to:\n{}", consent::describe(&dropped, &old.info).join("\n"));
            }
            let kept = previous_grant.granted.intersection(&requested).cloned().collect();
            (requested.difference(&old_requested).cloned().collect::<BTreeSet<_>>(), kept)
        }
    };
    let asked: BTreeSet<Capability> = to_ask.difference(&deny).cloned().collect();
    if !deny.is_empty() {
        println!("Refused (--deny):\n{}", consent::describe(&deny, &info).join("\n"));
    }
    if asked.is_empty() {
        println!("{}", if previous.is_some() { "It asks for nothing new." } else { "It asks for nothing." });
    } else {
        let intro = if previous.is_some() { "It now also asks to:" } else { "It asks to:" };
        println!("{intro}\n{}", consent::describe(&asked, &info).join("\n"));
        if yes {
            println!("Granted (--yes).");
        } else if !consent::ask(&format!("Allow {name} to do this?")) {
            bail!("not added: permission was not granted; nothing was stored");
        }
    }
    let granted: BTreeSet<Capability> = kept.union(&asked).filter(|c| !deny.contains(c)).cloned().collect();
    let record = PluginRecord { sha256: sha256.clone(), contract: crate::runtime::CONTRACT_VERSION.into(), info };
    ctx.state.store_plugin(&name, &wasm, &record, &Grant { sha256: sha256.clone(), granted })?;
    rt.store_in_cache(&component, &sha256);
    if let Some(old) = &previous {
        rt.forget_cached(&old.sha256);
    }
    // Secrets with no value get a random one now, so that they never change
    // behind the user's back later.
    let mut service = ctx.state.service(&name)?;
    if options::generate_missing_secrets(&options::all_specs(&record.info), &mut service.options) || previous.is_none() {
        ctx.save_service(&name, &service)?;
    }
    println!("Added {name}. Next: `tails-server {name} info`, then `tails-server {name} enable`.");
    Ok(())
}

fn list(caps: &BTreeSet<Capability>) -> String {
    caps.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
}

pub fn list_plugins(ctx: &Context, json: bool) -> Result<()> {
    let mut rows = Vec::new();
    for name in ctx.state.plugin_names()? {
        let record = ctx.state.record(&name)?.expect("listed");
        rows.push(serde_json::json!({
            "name": name, "sha256": record.sha256, "contract": record.contract, "description": record.info.description,
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if rows.is_empty() {
        println!("No plugins added. Add one with `tails-server plugin add FILE.wasm`.");
    } else {
        for r in &rows {
            println!("{:<16} {}  tails:server@{}  {}", r["name"].as_str().unwrap(), &r["sha256"].as_str().unwrap()[..12], r["contract"].as_str().unwrap(), r["description"].as_str().unwrap());
        }
    }
    Ok(())
}

pub fn list_services(ctx: &Context, json: bool) -> Result<()> {
    let mut rows = Vec::new();
    for name in ctx.state.plugin_names()? {
        let service = ctx.service(&name)?;
        rows.push(serde_json::json!({
            "name": name, "enabled": service.state.enabled, "description": service.record.info.description,
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if rows.is_empty() {
        println!("No services yet. Add one with `tails-server plugin add FILE.wasm`.");
    } else {
        for r in &rows {
            let enabled = if r["enabled"].as_bool().unwrap() { "enabled" } else { "disabled" };
            println!("{:<16} {enabled:<9} {}", r["name"].as_str().unwrap(), r["description"].as_str().unwrap());
        }
    }
    Ok(())
}

pub fn show(ctx: &Context, name: &str, json: bool) -> Result<()> {
    let service = ctx.service(name)?;
    let requested = service.record.requested();
    let caps: Vec<_> = requested
        .iter()
        .map(|c| serde_json::json!({ "capability": c.to_string(), "granted": service.grant.granted.contains(c) }))
        .collect();
    if json {
        let value = serde_json::json!({
            "name": name, "sha256": service.record.sha256, "contract": service.record.contract,
            "description": service.record.info.description, "capabilities": caps,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("{name} — {}", service.record.info.description);
    println!("sha256:   {}", service.record.sha256);
    println!("contract: tails:server@{}", service.record.contract);
    println!("enabled:  {}", service.state.enabled);
    println!("Capabilities:");
    for cap in &requested {
        let status = if service.grant.granted.contains(cap) { "granted" } else { "refused" };
        println!("  {status:<8} {cap}");
    }
    Ok(())
}

pub fn remove(ctx: &Context, name: &str) -> Result<()> {
    let _lock = ctx.state.lock()?;
    let service = ctx.service(name)?;
    if service.state.enabled {
        bail!("{name} is enabled; disable it first with `tails-server {name} disable`");
    }
    if service.state.journal.operation.is_some() {
        bail!("{name} was interrupted while being enabled or disabled; run `tails-server repair` first");
    }
    if let Some(p) = &ctx.persistence {
        p.forget(&ctx.root, name, &service.record.info.capabilities.packages)?;
    }
    // The npm folder goes first: if that fails, the service is still there to retry.
    crate::system::npm::remove(&ctx.root, name).with_context(|| format!("removing {name}'s npm folder"))?;
    ctx.state.remove_plugin(name)?;
    ctx.runtime()?.forget_cached(&service.record.sha256);
    println!("Removed {name}: its plugin, grants, settings and npm packages are gone (from Persistent Storage too). Files it wrote stay in place.");
    Ok(())
}
