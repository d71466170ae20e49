//! `plugin add|list|show|remove` and `list`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{anyhow, bail, Context as _, Result};

use tails_server_core::broker::caps::Capability;
use tails_server_core::broker::Broker;
use tails_server_core::context::Context;
use tails_server_core::state::{self, Grant, PluginRecord};
use tails_server_core::{consent, display, manifest, options};
use tails_server_signature::Publisher;

/// Read a plugin file: a regular file (not a FIFO, a device or a terminal),
/// at most the size limit, read no further than that.
fn read_plugin_file(file: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let shown = display::path(file);
    // Non-blocking, so that opening a FIFO does not wait for a writer; the
    // flag does nothing to reading a regular file.
    let handle = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(file)
        .with_context(|| format!("cannot read {shown}"))?;
    let meta = handle.metadata().with_context(|| format!("cannot read {shown}"))?;
    if !meta.is_file() {
        bail!("refusing {shown}: it is not a regular file (a plugin is a .wasm file)");
    }
    let limit = tails_server_core::runtime::MAX_PLUGIN_BYTES;
    let mut wasm = Vec::new();
    handle.take(limit as u64 + 1).read_to_end(&mut wasm).with_context(|| format!("cannot read {shown}"))?;
    if wasm.len() > limit {
        bail!("refusing {shown}: it is larger than {} MiB", limit >> 20);
    }
    Ok(wasm)
}

/// Who made a build, for people.
fn publisher_words(publisher: Option<&str>) -> String {
    match publisher {
        Some(key) => format!("signed by {}", Publisher(key.to_string()).fingerprint()),
        None => "unsigned: Tails Server cannot tell who made it".into(),
    }
}

pub fn add(ctx: &Context, file: &Path, yes: bool, deny: &[String]) -> Result<()> {
    let deny: BTreeSet<String> = deny.iter().map(|d| d.parse::<Capability>().map(|c| c.to_string()).map_err(|e: String| anyhow!("--deny {}", display::line(&e)))).collect::<Result<_>>()?;
    let file = &tails_server_core::shipped::resolve(file)?;
    let shown = display::path(file);
    let wasm = read_plugin_file(file)?;
    let sha256 = tails_server_core::runtime::sha256_hex(&wasm);
    let refuse = |why: anyhow::Error| anyhow!("refusing {shown}: {why:#}");
    let publisher = tails_server_signature::verify(&wasm).map_err(|e| refuse(anyhow!(e)))?.map(|p| p.0);

    // Compiled before the lock is taken, so that a file that compiles slowly
    // (bounded too) keeps no other command waiting.
    let rt = ctx.runtime()?;
    let component = rt.compile_new(&wasm).map_err(refuse)?;
    // Locked (and the state folder made, so that the audit log of `describe`
    // is kept) from here: every plugin call has a deadline, so the lock is
    // never held for long by a plugin.
    let _lock = ctx.state.lock()?;
    // `describe` runs with nothing granted: a plugin that calls the broker
    // from it is refused like any other ungranted request. Until it has said
    // its name, the audit log names it by its hash.
    let label = format!("sha256:{}", &sha256[..12]);
    let (info, contract) = rt
        .instantiate(&component, &label, Broker::deny_all(&label, ctx.state.audit()))
        .and_then(|mut instance| Ok((instance.describe()?, instance.contract())))
        .map_err(refuse)?;
    let problems = manifest::problems(&info);
    if !problems.is_empty() {
        bail!("refusing {shown}: its description has problems:\n  - {}", problems.iter().map(|p| display::line(p)).collect::<Vec<_>>().join("\n  - "));
    }
    let name = info.name.clone();
    let requested = state::requested(&info);
    let requested_words: BTreeSet<String> = requested.iter().map(|c| c.to_string()).collect();
    if let Some(unknown) = deny.iter().find(|d| !requested_words.contains(*d)) {
        bail!("--deny {unknown}: `{name}` does not ask for that; it asks for: {}", list(&requested));
    }
    let deny: BTreeSet<Capability> = requested.iter().filter(|c| deny.contains(&c.to_string())).cloned().collect();

    let previous = ctx.state.record(&name)?;
    let previous_grant = ctx.state.grant(&name)?;
    if previous.as_ref().is_some_and(|p| p.sha256 == sha256) && deny.is_empty() {
        println!("{name} is already added (sha256 {sha256}).");
        return Ok(());
    }
    // A taken name is only ever upgraded by the same publisher: anything else
    // would inherit the grants, options, secrets and onion keys of another's
    // service.
    if let Some(old) = &previous {
        if old.publisher != publisher {
            bail!(
                "refusing {shown}: the name `{name}` is taken by the added plugin, {}; this file is {}. \
                 Only a build from the same publisher can replace it. To replace it anyway, remove it first \
                 (`tails-server plugin remove {name}`: its settings, onion address and client keys are deleted).",
                publisher_words(old.publisher.as_deref()),
                publisher_words(publisher.as_deref())
            );
        }
    }

    println!("Plugin: {name} — {}", display::line(&info.description));
    println!("File:   {shown} (sha256 {sha256})");
    println!("From:   {}", publisher_words(publisher.as_deref()));
    if contract != tails_server_core::runtime::CONTRACT_VERSION {
        println!(
            "Built for the older contract tails:server@{contract}: it runs through a compatibility layer, \
             and can run only a program one of its Debian packages ships."
        );
    }
    // On an upgrade, only what is new needs a yes; what was granted before
    // stays granted (or refused) as the user decided then. The code changed
    // though, so an upgrade always asks.
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
    let question = if asked.is_empty() {
        match &previous {
            Some(_) => {
                println!("It asks for nothing new, but its code is different: it will act with the permissions granted before.");
                Some(format!("Replace {name} with this build?"))
            }
            None => {
                println!("It asks for nothing.");
                None
            }
        }
    } else {
        let intro = if previous.is_some() { "It now also asks to:" } else { "It asks to:" };
        println!("{intro}\n{}", consent::describe(&asked, &info).join("\n"));
        Some(format!("Allow {name} to do this?"))
    };
    if let Some(question) = question {
        if yes {
            println!("Granted (--yes).");
        } else if !consent::ask(&question) {
            bail!("not added: permission was not granted; nothing was stored");
        }
    }
    let granted: BTreeSet<Capability> = kept.union(&asked).filter(|c| !deny.contains(c)).cloned().collect();
    let record = PluginRecord { sha256: sha256.clone(), contract: contract.into(), publisher, info };
    ctx.state.store_plugin(&name, &wasm, &record, &Grant { sha256: sha256.clone(), granted })?;
    rt.store_in_cache(&component, &sha256);
    if let Some(old) = &previous {
        rt.forget_cached(&old.sha256);
    }
    // Secrets with no value get a random one now, so that they never change
    // behind the user's back later; the onion key is made now, so that the
    // plugin knows its address from the first `configure`.
    let mut service = ctx.state.service(&name)?;
    let new_secrets = options::generate_missing_secrets(&options::all_specs(&record.info), &mut service.options);
    let (_, new_key) = tails_server_core::onion::ensure_key(&mut service)?;
    if new_secrets || new_key || previous.is_none() {
        ctx.save_service(&name, &service)?;
    }
    println!("Added {name}. Next: `tails-server {name} info`, then `tails-server {name} enable`.");
    Ok(())
}

fn list(caps: &BTreeSet<Capability>) -> String {
    caps.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
}

/// The shipped plugins: name, description (from the plugin itself, with
/// nothing granted), and whether this build, another one, or none is added.
pub fn available(ctx: &Context, json: bool) -> Result<()> {
    let rt = ctx.runtime()?;
    let mut rows = Vec::new();
    for (name, path) in tails_server_core::shipped::list() {
        let wasm = read_plugin_file(&path)?;
        let sha256 = tails_server_core::runtime::sha256_hex(&wasm);
        let label = format!("sha256:{}", &sha256[..12]);
        let description = rt
            .load_checked(&wasm, &sha256)
            .and_then(|component| rt.instantiate(&component, &label, Broker::deny_all(&label, ctx.state.audit())))
            .and_then(|mut instance| instance.describe())
            .map(|info| info.description)
            .unwrap_or_else(|e| format!("(cannot be read: {e:#})"));
        let added = match ctx.state.record(&name)? {
            Some(record) if record.sha256 == sha256 => "added",
            Some(_) => "added (another build)",
            None => "not added",
        };
        rows.push(serde_json::json!({"name": name, "description": description, "added": added, "file": path, "sha256": sha256}));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if rows.is_empty() {
        println!("No plugins are shipped in {}.", tails_server_core::shipped::dir().display());
    } else {
        for r in &rows {
            println!("{:<16} {:<22} {}", r["name"].as_str().unwrap(), r["added"].as_str().unwrap(), display::line(r["description"].as_str().unwrap()));
        }
        println!("\nAdd one with `tails-server plugin add NAME`.");
    }
    Ok(())
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
        println!("No plugins added. Add one with `tails-server plugin add NAME` (see `plugin available`) or `plugin add FILE.wasm`.");
    } else {
        for r in &rows {
            println!("{:<16} {}  tails:server@{}  {}", r["name"].as_str().unwrap(), &r["sha256"].as_str().unwrap()[..12], r["contract"].as_str().unwrap(), display::line(r["description"].as_str().unwrap()));
        }
    }
    Ok(())
}

pub fn list_services(backend: &crate::backend::Backend, json: bool) -> Result<()> {
    let rows = backend.list()?;
    let rows = rows.as_array().map(Vec::as_slice).unwrap_or_default();
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
    } else if rows.is_empty() {
        println!("No services yet. Add one with `tails-server plugin add FILE.wasm`.");
    } else {
        for r in rows {
            let enabled = if r["enabled"].as_bool().unwrap_or(false) { "enabled" } else { "disabled" };
            println!("{:<16} {enabled:<9} {}", r["name"].as_str().unwrap_or_default(), display::line(r["description"].as_str().unwrap_or_default()));
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
            "publisher": service.record.publisher.as_ref().map(|k| Publisher(k.clone()).fingerprint()),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("{name} — {}", display::line(&service.record.info.description));
    println!("from:     {}", publisher_words(service.record.publisher.as_deref()));
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
    // An interrupted enable or disable is finished (or undone) first, so that
    // even a service whose plugin hangs can be got rid of.
    tails_server_core::engine::repair(ctx)?;
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
    tails_server_core::system::npm::remove(&ctx.root, name).with_context(|| format!("removing {name}'s npm folder"))?;
    if ctx.live() {
        tails_server_core::system::accounts::remove(name).map_err(|e| anyhow::anyhow!("removing {name}'s accounts: {e}"))?;
    }
    ctx.state.remove_plugin(name)?;
    ctx.runtime()?.forget_cached(&service.record.sha256);
    println!("Removed {name}: its plugin, grants, settings and npm packages are gone (from Persistent Storage too). Files it wrote stay in place.");
    Ok(())
}
