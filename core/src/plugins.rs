//! Adding and removing plugins, in two steps a front end can put a person
//! between: `inspect` a file's bytes (what it asks for, in words; nothing is
//! stored), then `add` exactly those bytes with the grants the person agreed
//! to. The CLI asks at the terminal; the daemon's caller shows the
//! inspection and calls again.

use std::collections::BTreeSet;
use tails_server_types::{Hinted, Next};

use anyhow::{anyhow, bail, Result};
use tails_server_signature::Publisher;
use tails_server_types::documents::{AvailablePlugin, CapabilityGrant, PluginRow, PluginShown};
use tails_server_types::Inspection;

use crate::bindings::tails::server::types::ServiceInfo;
use crate::broker::caps::Capability;
use crate::broker::Broker;
use crate::context::Context;
use crate::runtime::sha256_hex;
use crate::state::{self, Grant, PluginRecord};
use crate::{consent, display, manifest, options};
use wasmtime::component::Component;

pub use crate::plugin_file::{open, read, read_file};

/// Capabilities a person refuses, as typed (`--deny`, a window's switches):
/// each in its short form, or what is wrong with it.
pub fn refusals(typed: &[String]) -> Result<Vec<String>> {
    typed
        .iter()
        .map(|d| {
            d.parse::<Capability>()
                .map(|c| c.to_string())
                .map_err(|e: String| anyhow!("{}", display::line(&e)))
        })
        .collect()
}

/// Add the plugin in `wasm` as it was inspected and agreed to: refused when
/// its bytes are not the ones inspected (`sha256`), so that a file changed
/// after the question is never what is added. Its name, and the words of
/// what was done.
pub fn add_as_inspected(
    ctx: &Context,
    wasm: Vec<u8>,
    sha256: &str,
    shown: &str,
    refused: &[String],
) -> Result<(String, String)> {
    let now = sha256_hex(&wasm);
    if now != sha256 {
        bail!("the plugin file changed since it was inspected (sha256 {} then, {now} now); inspect it again", display::line(sha256));
    }
    let candidate = inspect(ctx, wasm, shown)?;
    let refused = candidate.capabilities(refused)?;
    let name = candidate.inspection.name.clone();
    Ok((name, candidate.add(ctx, &refused)?))
}

/// Who a plugin is from, for the rules that depend on it: replacing an
/// added plugin, sharing a user, following the installed release.
///
/// First-party is known by the bytes, never by a key: a plugin is Tails
/// Server's own when it is the very build the installed Tails Server ships
/// under that name (its root-owned folder, put there by the Debian package
/// apt verified). The key that signed it makes nothing first-party: the test
/// kit's key is in the repository, and anyone can sign with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    FirstParty,
    /// Signed: the publisher's ed25519 public key (hex).
    Signed(String),
    Unsigned,
}

impl Origin {
    /// For people: the consent screen's and `plugin show`'s "From".
    pub fn words(&self) -> String {
        match self {
            Origin::FirstParty => "first-party: the build this Tails Server ships".into(),
            Origin::Signed(key) => format!("signed by {}", Publisher(key.clone()).fingerprint()),
            Origin::Unsigned => "unsigned: Tails Server cannot tell who made it".into(),
        }
    }

    /// May services of these two origins share what one publisher's may (a
    /// user, an upgrade)? Unsigned plugins share with nobody.
    pub fn same_publisher(&self, other: &Origin) -> bool {
        *self != Origin::Unsigned && self == other
    }

    fn of(first_party: bool, publisher: Option<&str>) -> Origin {
        match (first_party, publisher) {
            (true, _) => Origin::FirstParty,
            (false, Some(key)) => Origin::Signed(key.into()),
            (false, None) => Origin::Unsigned,
        }
    }
}

/// Where an added plugin is from. A record written before origins were
/// recorded is first-party when it is signed by the key that signs the
/// plugin shipped under its name now (the rule of that release).
pub fn origin(record: &PluginRecord) -> Origin {
    let first_party = record.first_party.unwrap_or_else(|| {
        record.publisher.is_some()
            && crate::shipped::shipped_build(&record.info.name)
                .and_then(|wasm| tails_server_signature::verify(&wasm).ok().flatten())
                .is_some_and(|shipped| Some(shipped.0) == record.publisher)
    });
    Origin::of(first_party, record.publisher.as_deref())
}

/// A file checked and described, ready to be added.
pub struct Candidate {
    wasm: Vec<u8>,
    component: Component,
    record: PluginRecord,
    requested: BTreeSet<Capability>,
    /// Granted before and still asked for (an upgrade keeps the person's choices).
    kept: BTreeSet<Capability>,
    /// Needs a yes now.
    to_ask: BTreeSet<Capability>,
    previous: Option<PluginRecord>,
    pub inspection: Inspection,
}

/// Check a plugin's bytes and say what it asks for; nothing is stored.
/// `shown` names the file in errors.
pub fn inspect(ctx: &Context, wasm: Vec<u8>, shown: &str) -> Result<Candidate> {
    let sha256 = sha256_hex(&wasm);
    let refuse = |why: anyhow::Error| anyhow!("refusing {shown}: {why:#}");
    let publisher =
        tails_server_signature::verify(&wasm).map_err(|e| refuse(anyhow!(e)))?.map(|p| p.0);
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
        // An older plugin meets today's rules through its shim: say so, and
        // that only its author can fix it.
        let older = if contract != crate::runtime::CONTRACT_VERSION {
            format!(
                "\nIt was built for contract {contract} (this Tails Server speaks {current}; older plugins load through a compatibility \
                 layer, under today's rules). Only its author can fix this: rebuild it with the SDK of contract {current}, declaring \
                 what the problems above name (a folder kept in Persistent Storage must be one of its config paths or data folders).",
                current = crate::runtime::CONTRACT_VERSION
            )
        } else {
            String::new()
        };
        bail!(
            "refusing {shown}: its description has problems:\n  - {}{older}",
            problems.iter().map(|p| display::line(p)).collect::<Vec<_>>().join("\n  - ")
        );
    }
    let name = info.name.clone();
    let requested = state::requested(&info);
    let previous = ctx.state.record(&name)?;
    let previous_grant = ctx.state.grant(&name)?;
    let first_party = crate::shipped::ships(&name, &sha256);
    let from = Origin::of(first_party, publisher.as_deref());
    // A taken name is only ever upgraded by the same publisher (first-party
    // only by the build this Tails Server ships): anything else would
    // inherit the grants, options, secrets and onion keys of another's
    // service. Two unsigned builds are as alike as the person says.
    if let Some(old) = &previous {
        let old_from = origin(old);
        if old_from != from {
            return Err(Hinted::new(
                format!(
                    "refusing {shown}: the name `{name}` is taken by the added plugin, {}; this file is {}. \
                     Only a build from the same publisher can replace it. To replace it anyway, remove it first \
                     ({{next}}: its settings, onion address and client keys are deleted).",
                    old_from.words(),
                    from.words()
                ),
                [Next::RemovePlugin { service: name.to_string() }],
            )
            .into());
        }
    }
    let mut others = Vec::new();
    for other in ctx.state.plugin_names()?.into_iter().filter(|other| *other != name) {
        others.extend(ctx.state.record(&other)?.map(|record| (other, record.info)));
    }
    if let Some(why) =
        crate::claims::taken(&info, others.iter().map(|(name, info)| (name.as_str(), info)))
    {
        let said = format!("refusing {shown}: {}", display::line(&why.said));
        return Err(Hinted { said, ..why }.into());
    }
    crate::claims::check_places(&ctx.root, &info, &info.capabilities.packages, false)
        .map_err(refuse)?;
    // On an upgrade, only what is new needs a yes; what was granted before
    // stays granted (or refused) as the person decided then.
    let (to_ask, kept, no_longer) = match &previous {
        None => (requested.clone(), BTreeSet::new(), BTreeSet::new()),
        Some(old) => {
            let old_requested = old.requested();
            let dropped: BTreeSet<Capability> =
                old_requested.difference(&requested).cloned().collect();
            let kept = previous_grant.granted.intersection(&requested).cloned().collect();
            (requested.difference(&old_requested).cloned().collect(), kept, dropped)
        }
    };
    let words =
        |caps: &BTreeSet<Capability>, info: &ServiceInfo, previous: Option<&ServiceInfo>| {
            consent::describe(caps, info, previous, first_party)
        };
    let inspection = Inspection {
        name,
        description: display::line(&info.description),
        sha256: sha256.clone(),
        publisher: from.words(),
        contract: format!("tails:server@{contract}"),
        older_contract: contract != crate::runtime::CONTRACT_VERSION,
        already_added: previous.as_ref().is_some_and(|p| p.sha256 == sha256),
        replaces: previous.as_ref().map(|p| p.sha256.clone()),
        no_longer_asks: previous
            .as_ref()
            .map(|old| words(&no_longer, &old.info, None))
            .unwrap_or_default(),
        changes: previous
            .as_ref()
            .map(|old| consent::changes(&old.info, &info))
            .unwrap_or_default(),
        requested: requested.iter().map(|c| c.to_string()).collect(),
        asks: words(&to_ask, &info, previous.as_ref().map(|p| &p.info)),
        kept: kept.iter().map(|c: &Capability| c.to_string()).collect(),
    };
    let record = PluginRecord {
        sha256,
        contract: contract.into(),
        publisher,
        first_party: Some(first_party),
        info,
    };
    Ok(Candidate { wasm, component, record, requested, kept, to_ask, previous, inspection })
}

impl Candidate {
    /// The capabilities named (short forms) as a set of this plugin's;
    /// an unknown one is an error that lists what it asks for.
    pub fn capabilities(&self, named: &[String]) -> Result<BTreeSet<Capability>> {
        let mut out = BTreeSet::new();
        for text in named {
            let cap: Capability =
                text.parse().map_err(|e: String| anyhow!("{}", display::line(&e)))?;
            // By the short form a person types: a host-written unit's
            // capability also carries its spec, which `unit:NAME` does not.
            let Some(asked) = self.requested.iter().find(|c| c.to_string() == cap.to_string())
            else {
                let all: Vec<String> = self.requested.iter().map(|c| c.to_string()).collect();
                bail!(
                    "`{}` does not ask for {cap}; it asks for: {}",
                    self.inspection.name,
                    all.join(", ")
                );
            };
            out.insert(asked.clone());
        }
        Ok(out)
    }

    /// Store the plugin, granting what it asked (what was kept, and what
    /// needed a yes) except `refused`. Returns the words of what was done.
    pub fn add(self, ctx: &Context, refused: &BTreeSet<Capability>) -> Result<String> {
        let name = self.inspection.name.clone();
        let sha256 = self.record.sha256.clone();
        let _lock = ctx.state.lock()?;
        // What was inspected is what is replaced: another add in between
        // would make the person's answer about a different plugin.
        if ctx.state.record(&name)?.map(|r| r.sha256)
            != self.previous.as_ref().map(|p| p.sha256.clone())
        {
            bail!("the added `{name}` changed since this file was inspected; inspect it again");
        }
        if self.inspection.changes_nothing(!refused.is_empty()) {
            return Ok(format!("{name} is already added (sha256 {sha256})."));
        }
        let granted: BTreeSet<Capability> =
            self.kept.union(&self.to_ask).filter(|c| !refused.contains(c)).cloned().collect();
        let rt = ctx.runtime()?;
        ctx.state.store_plugin(
            &name,
            &self.wasm,
            &self.record,
            &Grant { sha256: sha256.clone(), granted },
        )?;
        rt.store_in_cache(&self.component, &sha256);
        if let Some(old) = &self.previous {
            rt.forget_cached(&old.sha256);
        }
        // Secrets with no value get a random one now, so that they never
        // change behind the person's back later; the onion key is made now,
        // so that the plugin knows its address from the first `configure`.
        let mut service = ctx.state.service(&name)?;
        let new_secrets = options::generate_missing_secrets(
            &options::all_specs(&self.record.info),
            &mut service.options,
        );
        let (_, new_key) = crate::onion::ensure_key(&mut service)?;
        if new_secrets || new_key || self.previous.is_none() {
            ctx.save_service(&name, &service)?;
        }
        Ok(format!(
            "Added {name}.\nNext: `tails-server {name} info`, then `tails-server {name} enable`."
        ))
    }
}

/// A plugin of Tails Server's own follows the installed Tails Server: when
/// the plugin the installed program ships under the same name (its own
/// root-owned folder, [`crate::shipped`]) is not the added file, and the
/// added one was first-party (the build an earlier release shipped), it
/// replaces it. At boot on Tails 7, a
/// Tails 6 service kept in Persistent Storage comes back with the plugin of
/// Tails 6, which names Debian 12's packages (the wiki's PHP is not in
/// Debian 13) or paths (mumble's file, which mumble 1.5 never reads: it
/// would run without its password). What the person refused stays refused;
/// what the shipped version asks anew is granted, as the program that ships
/// it was installed by root, and said. Any other plugin (whoever signed it)
/// or an enabled service is left as it is. Returns the record
/// that was replaced and the words saying what changed.
pub fn follow_shipped(ctx: &Context, name: &str) -> Result<Option<(PluginRecord, String)>> {
    let Some(path) = crate::shipped::path_of(name) else { return Ok(None) };
    let Some(old) = ctx.state.record(name)? else { return Ok(None) };
    if origin(&old) != Origin::FirstParty || ctx.state.service(name)?.enabled {
        return Ok(None);
    }
    let wasm = read_file(&path)?;
    if sha256_hex(&wasm) == old.sha256 {
        return Ok(None);
    }
    let candidate = inspect(ctx, wasm, &display::path(&path))?;
    let lines = |asked: &[tails_server_types::Asked]| {
        asked.iter().map(|a| a.line()).collect::<Vec<_>>().join("\n")
    };
    let mut words = format!(
        "{name}: its plugin is now the one this Tails Server ships ({}, sha256 {}), in place of the one kept from an earlier \
         release (sha256 {}); its settings, address and client keys are kept.",
        candidate.inspection.publisher,
        &candidate.inspection.sha256[..12],
        &old.sha256[..12.min(old.sha256.len())]
    );
    if !candidate.inspection.asks.is_empty() {
        words += &format!("\nIt may now also:\n{}", lines(&candidate.inspection.asks));
    }
    if !candidate.inspection.no_longer_asks.is_empty() {
        words += &format!("\nIt no longer may:\n{}", lines(&candidate.inspection.no_longer_asks));
    }
    for change in &candidate.inspection.changes {
        words += &format!("\n{change}");
    }
    candidate.add(ctx, &BTreeSet::new())?;
    Ok(Some((old, words)))
}

/// The shipped plugins: name, description (from the plugin itself, with
/// nothing granted), and whether this build, another one, or none is added.
pub fn available(ctx: &Context) -> Result<Vec<AvailablePlugin>> {
    let rt = ctx.runtime()?;
    let mut rows = Vec::new();
    for (name, path) in crate::shipped::list() {
        let wasm = read_file(&path)?;
        let sha256 = sha256_hex(&wasm);
        let label = format!("sha256:{}", &sha256[..12]);
        let (description, icon_name) = rt
            .load_checked(&wasm, &sha256)
            .and_then(|component| {
                rt.instantiate(&component, &label, Broker::deny_all(&label, ctx.state.audit()))
            })
            .and_then(|mut instance| instance.describe())
            .map(|info| (display::line(&info.description), display::icon_name(&info.icon_name)))
            .unwrap_or_else(|e| (format!("(cannot be read: {e:#})"), String::new()));
        let added = match ctx.state.record(&name)? {
            Some(record) if record.sha256 == sha256 => "added",
            Some(_) => "added (another build)",
            None => "not added",
        };
        rows.push(AvailablePlugin {
            name,
            description,
            added: added.into(),
            file: path,
            sha256,
            icon_name,
        });
    }
    Ok(rows)
}

/// The added plugins: name, build, contract, description (`plugin list --json`).
pub fn listed(ctx: &Context) -> Result<Vec<PluginRow>> {
    let mut rows = Vec::new();
    for name in ctx.state.plugin_names()? {
        let Some(record) = ctx.state.record(&name)? else { continue };
        let description = display::line(&record.info.description);
        rows.push(PluginRow {
            name,
            sha256: record.sha256,
            contract: record.contract,
            description,
        });
    }
    Ok(rows)
}

/// One added plugin: who it is from, what it asked for and whether each was
/// granted (`plugin show --json`).
pub fn shown(ctx: &Context, name: &str) -> Result<PluginShown> {
    let service = ctx.service(name)?;
    let record = &service.record;
    let capabilities = record
        .requested()
        .iter()
        .map(|c| CapabilityGrant {
            capability: display::line(&c.to_string()),
            granted: service.grant.granted.contains(c),
        })
        .collect();
    Ok(PluginShown {
        name: name.into(),
        sha256: record.sha256.clone(),
        contract: record.contract.clone(),
        description: display::line(&record.info.description),
        capabilities,
        publisher: record.publisher.as_ref().map(|k| Publisher(k.clone()).fingerprint()),
        first_party: origin(record) == Origin::FirstParty,
        from: origin(record).words(),
        enabled: service.state.enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Paths;

    #[test]
    fn refusals_are_short_forms_or_say_what_is_wrong() {
        let typed = ["package:lighttpd".to_string(), "folder:/etc/web/".to_string()];
        assert_eq!(refusals(&typed).unwrap(), typed);
        let e = refusals(&["lighttpd\u{1b}[2J".to_string()]).unwrap_err().to_string();
        assert!(e.contains("is not a capability") && !e.contains('\u{1b}'), "{e}");
    }

    /// The daemon adds only the bytes the person was shown: other bytes are
    /// refused before they are even compiled, and nothing is stored.
    #[test]
    fn bytes_other_than_the_inspected_ones_are_never_added() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths { root: Some(tmp.path().into()), state_dir: None, persistent_dir: None };
        let ctx = Context::new(&paths).unwrap();
        let inspected = sha256_hex(b"the bytes shown");
        let e = add_as_inspected(&ctx, b"other bytes".to_vec(), &inspected, "web.wasm", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("changed since it was inspected"), "{e}");
        assert!(ctx.state.plugin_names().unwrap().is_empty());
    }
}
