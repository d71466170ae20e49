//! The service engine: enable and disable as journaled, idempotent steps.
//!
//! Enable runs [`STEPS`] in order; disable undoes, in reverse, exactly the
//! steps enable recorded as done (and the one it was in, if it stopped
//! there). The journal lives in the service's state file and is saved before
//! and after each step, so after a crash (kill -9) at any point `repair`
//! (which every enable, disable and autostart runs first) knows what was
//! under way: an interrupted enable is finished, or undone if it cannot be;
//! an interrupted disable is finished.

use anyhow::{anyhow, bail, Result};
use tails_server_types::{Hinted, Next};

use crate::bindings::tails::server::types::{OptionValue, ServiceInfo, ServiceUnit, UnitSpec};
use crate::blocking::block_on;
use crate::broker::caps::units;
use crate::broker::caps::Capability;
use crate::context::{Context, Service};
use crate::fsutil;
use crate::journal::{Journal, Operation, Progress, Step, STEPS};
use crate::runtime::error_text;
use crate::system::firewall::{self, Opening};
use crate::system::npm;
use crate::system::systemd::{Job, Systemd};
use crate::{display, onion, options};

fn save(ctx: &Context, service: &Service) -> Result<()> {
    ctx.save_service(&service.name, &service.state)
}

/// Enable the service. If a step fails, what was done is undone and the
/// error says which step failed and why.
pub fn enable(ctx: &Context, service: &mut Service) -> Result<()> {
    refuse_ungranted(service)?;
    let others = other_services(ctx, service)?;
    refuse_shared_unit(service, &others)?;
    refuse_shared_user(ctx, service, &others)?;
    if let Some(why) = crate::claims::taken(
        &service.record.info,
        others.iter().map(|o| (o.name.as_str(), &o.record.info)),
    ) {
        let said = format!("{} cannot be enabled: {}", service.name, display::line(&why.said));
        return Err(Hinted { said, ..why }.into());
    }
    service.state.journal.operation = Some(Operation::Enable);
    save(ctx, service)?;
    for step in STEPS {
        if let Err(e) = run_step(ctx, service, step) {
            ctx.report(Progress::Failed { step });
            if let Err(undo) = disable(ctx, service) {
                return Err(e.context(Hinted::new(
                    format!("and undoing failed too ({undo:#}); run {{next}}"),
                    [Next::Repair],
                )));
            }
            return Err(e.context(format!(
                "enabling {} failed at step `{}`; nothing was left enabled",
                service.name,
                step.name()
            )));
        }
    }
    service.state.enabled = true;
    service.state.journal = Journal { done: STEPS.to_vec(), ..Journal::default() };
    save(ctx, service)?;
    keep(ctx, service)
}

/// What a service cannot run without: the port tor sends clients to, and its
/// unit. Refused before anything is done.
fn refuse_ungranted(service: &Service) -> Result<()> {
    let info = &service.record.info;
    let granted = |cap: &Capability| service.grant.granted.contains(cap);
    let target = Capability::Port {
        port: info.default_target_port,
        protocol: crate::broker::caps::Proto::Tcp,
    };
    if !granted(&target) {
        bail!(
            "{} cannot be enabled: its port {}/tcp (where tor sends its clients) was refused at `plugin add`; add the plugin again and allow it",
            service.name,
            info.default_target_port
        );
    }
    if !service.grant.granted.iter().any(|c| matches!(c, Capability::Unit { .. })) {
        bail!("{} cannot be enabled: its unit was refused at `plugin add`; add the plugin again and allow it", service.name);
    }
    Ok(())
}

/// Every added service but `service`, read once for the checks before enable.
fn other_services(ctx: &Context, service: &Service) -> Result<Vec<Service>> {
    ctx.state
        .plugin_names()?
        .into_iter()
        .filter(|name| *name != service.name)
        .map(|name| ctx.service(&name))
        .collect()
}

/// One unit runs one service: a plugin naming the packaged unit of another
/// service that is enabled (or being enabled) would restart it with its own
/// configuration and replace its drop-in.
fn refuse_shared_unit(service: &Service, others: &[Service]) -> Result<()> {
    let unit = units::unit_name(&service.name, &service.record.info.unit);
    for other in others {
        let busy = other.state.enabled || other.state.journal.operation.is_some();
        if busy && units::unit_name(&other.name, &other.record.info.unit) == unit {
            bail!(
                "{} cannot be enabled: its unit {unit} runs the service {}; disable {} first",
                service.name,
                other.name,
                other.name
            );
        }
    }
    Ok(())
}

/// A named user runs the services of one publisher only: two services run
/// as one user (a third party's unit as `irc`, say) read each other's files,
/// and the secret files the other's group may read (its password). Services
/// of one publisher (the first-party `web`, `wiki` and `mediawiki`, all
/// `www-data`) may share; unsigned plugins share with nobody, and a plugin
/// signed with the key the shipped ones carry is not first-party.
fn refuse_shared_user(ctx: &Context, service: &Service, others: &[Service]) -> Result<()> {
    let Some(user) = units::named_user(ctx.live(), &service.record.info, &service.name) else {
        return Ok(());
    };
    for other in others {
        let same_publisher = crate::plugins::origin(&service.record)
            .same_publisher(&crate::plugins::origin(&other.record));
        if !same_publisher
            && units::named_user(ctx.live(), &other.record.info, &other.name).as_deref()
                == Some(user.as_str())
        {
            return Err(Hinted::new(
                format!(
                    "{} cannot be enabled: it runs as the user {user}, and so does the service {} from another publisher; each could read \
                     the other's files and passwords. Keep one of them ({{next}} removes the other)",
                    service.name,
                    other.name
                ),
                [Next::RemoveEither],
            )
            .into());
        }
    }
    Ok(())
}

/// Keep the service's latest files (and plugin) in Persistent Storage when
/// its persistence is on.
fn keep(ctx: &Context, service: &Service) -> Result<()> {
    match ctx.kept(&service.state) {
        Some(p) => p.save(&ctx.machine(), service.kept()),
        None => Ok(()),
    }
}

fn run_step(ctx: &Context, service: &mut Service, step: Step) -> Result<()> {
    service.state.journal.current = Some(step);
    save(ctx, service)?;
    let started = std::time::Instant::now();
    let said = if skipped(ctx, step) {
        not_live(ctx, service, step)?
    } else {
        do_step(ctx, service, step)?
    };
    ctx.report(Progress::Done { step, said, seconds: Some(started.elapsed().as_secs_f64()) });
    test_pause(Operation::Enable, step);
    let journal = &mut service.state.journal;
    if !journal.done.contains(&step) {
        journal.done.push(step);
    }
    journal.current = None;
    save(ctx, service)
}

/// Disable: undo every step that enable did (or was doing), last first.
pub fn disable(ctx: &Context, service: &mut Service) -> Result<()> {
    service.state.journal.operation = Some(Operation::Disable);
    save(ctx, service)?;
    for step in STEPS.into_iter().rev() {
        let journal = &service.state.journal;
        if !journal.done.contains(&step) && journal.current != Some(step) {
            continue;
        }
        service.state.journal.current = Some(step);
        save(ctx, service)?;
        let said = if skipped(ctx, step) {
            not_live(ctx, service, step)?
        } else {
            undo_step(ctx, service, step)
                .map_err(|e| e.context(format!("undoing step `{}`", step.name())))?
        };
        ctx.report(Progress::Done { step, said, seconds: None });
        test_pause(Operation::Disable, step);
        service.state.journal.done.retain(|s| *s != step);
        service.state.journal.current = None;
        save(ctx, service)?;
    }
    service.state.enabled = false;
    service.state.journal = Journal::default();
    save(ctx, service)?;
    // The service's data changed while it ran.
    keep(ctx, service)
}

/// At boot: bring back the services Persistent Storage kept (or, where the
/// state folder outlived the reboot, mount their persistent folders again),
/// finish what a crash interrupted, replace Tails Server's own plugins that
/// an earlier release left by the ones this program ships
/// (`plugins::follow_shipped`), enable the services whose autostart is
/// on, and keep the others' units from running on their own (a package
/// Additional Software reinstalled may have started one). Returns the
/// services that could not be enabled, with why; the others go on.
/// `feature_on`: first put Tails Server's Persistent Storage feature back
/// (the person asked for it); without it, a missing feature stops
/// everything here, before anything is restored or started.
pub fn autostart(ctx: &Context, feature_on: bool) -> Result<Vec<(String, anyhow::Error)>> {
    if ctx.persistence.is_none() && ctx.live() && crate::system::on_tails() {
        ctx.report(Progress::Note {
            text: "Persistent Storage is not unlocked: services kept in it were not started. Unlock it in the Welcome Screen \
                   at the next start of Tails (or create it in the Persistent Storage settings)."
                .into(),
        });
    }
    if let Some(p) = &ctx.persistence {
        if feature_on {
            p.set_feature(true)?;
        }
        let kept = p.names()?;
        if let Some(missing) = p.feature_missing(&kept)? {
            // Their packages (Additional Software reinstalls them at boot)
            // may have started their units with Debian's defaults.
            for name in &kept {
                if let Some(record) = p.record(name)? {
                    keep_unit_stopped(&units::unit_name(name, &record.info.unit))?;
                }
            }
            return Err(missing.into());
        }
        for name in kept {
            if ctx.state.record(&name)?.is_none() {
                p.restore(&ctx.machine(), &name)?;
                ctx.report(Progress::Restored { service: name.clone(), from: p.dir.clone() });
            }
        }
        for name in ctx.state.plugin_names()? {
            let service = ctx.service(&name)?;
            if ctx.kept(&service.state).is_some() {
                p.attach(&ctx.machine(), &name, &service.record.info)?;
            }
        }
    }
    repair(ctx)?;
    let mut failed = Vec::new();
    // Tails Server's own plugins follow the installed program (a Tails 6
    // service kept in Persistent Storage comes back with Tails 6's plugin).
    // One that could not would run the old one's configuration: not started.
    for name in ctx.state.plugin_names()? {
        match crate::plugins::follow_shipped(ctx, &name) {
            Ok(None) => {}
            Ok(Some((old, words))) => {
                let service = ctx.service(&name)?;
                if let Some(p) = ctx.kept(&service.state) {
                    p.replaced(&ctx.machine(), &name, &old)?;
                }
                ctx.report(Progress::Note { text: words });
            }
            Err(e) => failed.push((
                name,
                e.context("its plugin could not be replaced by the one this Tails Server ships"),
            )),
        }
    }
    for name in ctx.state.plugin_names()? {
        if failed.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let mut service = ctx.service(&name)?;
        let autostart = service.value(options::AUTOSTART) == Some(&OptionValue::Boolean(true));
        if autostart && !service.state.enabled {
            ctx.report(Progress::Autostarting { service: name.clone() });
            if let Err(e) = enable(ctx, &mut service) {
                failed.push((name, e));
            }
        } else if !service.state.enabled {
            keep_unit_stopped(&units::unit_name(&service.name, &service.record.info.unit))?;
        }
    }
    Ok(failed)
}

/// A service that is not enabled must not run, even if its package started
/// its unit.
fn keep_unit_stopped(unit: &str) -> Result<()> {
    block_on(async {
        let systemd = Systemd::connect().await?;
        if systemd.exists(unit).await? {
            systemd.stop_and_disable(unit).await?;
        }
        Ok(())
    })
}

/// Finish or undo whatever a crash interrupted, for every service; then make
/// the firewall hold exactly the open services' rules. Reports a line per
/// service repaired (`Progress::Repaired`) and returns how many there were.
pub fn repair(ctx: &Context) -> Result<usize> {
    let mut repaired = 0;
    for name in ctx.state.plugin_names()? {
        let mut service = ctx.service(&name)?;
        let Some(operation) = service.state.journal.operation else { continue };
        ctx.report(Progress::Resuming { service: name.clone(), operation });
        let line = match operation {
            Operation::Enable => match enable(ctx, &mut service) {
                Ok(()) => format!("{name}: the interrupted enable was finished"),
                Err(e) => format!(
                    "{name}: the interrupted enable could not be finished and was undone: {e:#}"
                ),
            },
            Operation::Disable => {
                disable(ctx, &mut service)?;
                format!("{name}: the interrupted disable was finished")
            }
        };
        ctx.report(Progress::Repaired { line });
        repaired += 1;
    }
    if ctx.live() {
        firewall::apply(firewall::Backend::detect()?, &openings(ctx, None)?)?;
    }
    Ok(repaired)
}

/// Under `--root DIR` only files change: packages, starting units and the
/// firewall belong to the running system (the unit step still writes its file).
fn skipped(ctx: &Context, step: Step) -> bool {
    !ctx.live() && matches!(step, Step::Packages | Step::Firewall)
}

/// Where the host writes the service's unit (host-written) or the drop-in
/// that confines its packaged unit.
fn unit_file(ctx: &Context, service: &Service) -> std::path::PathBuf {
    let unit = units::unit_name(&service.name, &service.record.info.unit);
    let folder = fsutil::under_root(&ctx.root, units::UNIT_FOLDER);
    match &service.record.info.unit {
        ServiceUnit::HostWritten(_) => folder.join(&unit),
        ServiceUnit::Packaged(_) => folder.join(format!("{unit}.d")).join("tails-server.conf"),
    }
}

/// A packaged unit is the service's only when one of its granted packages
/// ships it (dpkg's file lists say, once the packages are installed). Any
/// other unit belongs to something else: it is never started, stopped,
/// disabled or given a drop-in. Under `--root` nothing runs, so nothing is
/// checked.
fn check_shipped(ctx: &Context, service: &Service) -> Result<()> {
    let ServiceUnit::Packaged(unit) = &service.record.info.unit else { return Ok(()) };
    let (granted, _) = granted_packages(service);
    if ctx.live() && crate::system::packages::shipping_unit(&ctx.root, &granted, unit).is_none() {
        bail!(
            "{unit} is not a unit that any of {}'s granted Debian packages ({}) ships; Tails Server starts, stops and confines no other unit",
            service.name,
            if granted.is_empty() { "none".into() } else { granted.join(", ") }
        );
    }
    Ok(())
}

/// A packaged unit that runs anything as root (no `User=`, a `+` command)
/// would have root read the configuration the plugin writes: lighttpd
/// parses `include_shell`, piped logs and `server.username` as root. Only
/// Tails Server's own plugins (the shipped bytes) may run one; any other is
/// refused here, after its packages are installed and before `configure`
/// has written anything, so that nothing of it is ever read as root.
async fn refuse_root_unit(service: &Service, systemd: &Systemd, unit: &str) -> Result<()> {
    if !matches!(service.record.info.unit, ServiceUnit::Packaged(_))
        || crate::plugins::origin(&service.record) == crate::plugins::Origin::FirstParty
    {
        return Ok(());
    }
    if let Some(why) = systemd.runs_as_root(unit).await? {
        bail!(
            "{why}: root would read the configuration {name} writes. Tails Server runs a unit that starts as root only for its own \
             plugins; {name}'s author can have the host write its unit instead (a host-written unit runs as the service's user). \
             Nothing was configured",
            name = service.name
        );
    }
    Ok(())
}

/// Run the plugin's `configure` with the service's current values and write
/// what it staged. Returns the files written.
fn reconfigure(service: &Service, mut instance: crate::runtime::Instance) -> Result<Vec<String>> {
    let address = onion::address(&service.state)
        .ok_or_else(|| anyhow!("{} has no onion key; add its plugin again", service.name))?;
    let values = options::for_configure(
        &service.record.info,
        &service.specs,
        &service.state.options,
        &address,
    );
    if let Err(e) = instance.configure(&values)? {
        bail!(
            "{}: the plugin could not configure the service; nothing was written:\n  {}",
            service.name,
            display::text(&error_text(&e))
        );
    }
    instance
        .broker()
        .commit()
        .map_err(|e| anyhow!("{}: writing the configuration failed: {}", service.name, e.message()))
}

/// Write the unit the service runs as (or its confining drop-in). Returns
/// the unit's name and the file written. A packaged unit must be one a
/// granted package ships.
fn write_unit(ctx: &Context, service: &Service) -> Result<(String, String)> {
    let info = &service.record.info;
    let unit = units::unit_name(&service.name, &info.unit);
    let lan = service.value(options::ALLOW_LAN) == Some(&OptionValue::Boolean(true));
    let text = match &info.unit {
        ServiceUnit::HostWritten(spec) => {
            let address = onion::address(&service.state)
                .ok_or_else(|| anyhow!("{} has no onion key yet", service.name))?;
            let values =
                options::for_configure(info, &service.specs, &service.state.options, &address)
                    .into_iter()
                    .map(|s| (s.name, options::to_text(&s.value)))
                    .collect();
            units::render(&service.name, spec, &values, lan)
                .map_err(|e| anyhow!("writing {unit}: {e}"))?
        }
        ServiceUnit::Packaged(_) => {
            check_shipped(ctx, service)?;
            units::packaged_drop_in(lan)
        }
    };
    let file = unit_file(ctx, service);
    if let Some(folder) = file.parent() {
        std::fs::create_dir_all(folder).map_err(|e| anyhow!("making {}: {e}", folder.display()))?;
    }
    fsutil::write_path_atomic(&file, text.as_bytes(), fsutil::Mode::KeepOr(0o644))
        .map_err(|e| anyhow!("writing {}: {e}", file.display()))?;
    Ok((unit, crate::display::path(&file)))
}

fn not_live(ctx: &Context, service: &Service, step: Step) -> Result<String> {
    let mut said =
        format!("skipped: --root {} is a folder, not the running system", ctx.root.display());
    if step == Step::Packages {
        let (debian, npm_specs) = granted_packages(service);
        let mut missing = crate::system::packages::missing(&ctx.root, &debian)?;
        missing.extend(
            npm::missing(&ctx.root, &service.name, &npm_specs)
                .into_iter()
                .map(|spec| format!("npm:{spec}")),
        );
        if !missing.is_empty() {
            said += &format!(" (not installed there: {})", missing.join(", "));
        }
    }
    Ok(said)
}

/// Do one step; returns what it did, for the user.
fn do_step(ctx: &Context, service: &mut Service, step: Step) -> Result<String> {
    let info = service.record.info.clone();
    match step {
        Step::Packages => packages_step(ctx, service, &info),
        Step::Configure => configure_step(ctx, service, &info),
        Step::Unit => unit_step(ctx, service),
        Step::Firewall => firewall_step(ctx, service),
        Step::Publish => publish_step(ctx, service),
    }
}

/// The service's granted Debian and npm packages installed, its packaged
/// unit stopped if installing started it, kept copies put in place.
fn packages_step(ctx: &Context, service: &mut Service, info: &ServiceInfo) -> Result<String> {
    let (packages, npm_specs) = granted_packages(service);
    let mut broker = ctx.broker(service);
    // Debian's first: they bring nodejs and npm.
    broker.install_packages(&packages).map_err(|e| anyhow!("{}", e.message()))?;
    broker.install_npm(&npm_specs).map_err(|e| anyhow!("{}", e.message()))?;
    let unit = &units::unit_name(&service.name, &info.unit);
    // Only a unit the service's packages ship is touched at all, and
    // only places they ship or own (or its own) are written.
    check_shipped(ctx, service)?;
    crate::claims::check_places(&ctx.root, info, &packages, true)?;
    block_on(async {
        let systemd = Systemd::connect().await?;
        refuse_root_unit(service, &systemd, unit).await?;
        // A package may have enabled and started its unit on install.
        if matches!(info.unit, ServiceUnit::Packaged(_))
            && !service.state.journal.done.contains(&Step::Unit)
            && systemd.is_enabled(unit).await?
        {
            systemd.stop_and_disable(unit).await?;
            ctx.report(Progress::Aside { text: format!("{unit} was set to start on its own: stopped and disabled (Tails Server starts it)") });
        }
        Ok::<_, anyhow::Error>(())
    })?;
    // What Persistent Storage keeps that waited for these packages.
    if let Some(p) = ctx.kept(&service.state) {
        p.place(&ctx.machine(), &service.name, info)?;
    }
    let refused = refused_packages(service, &packages, &npm_specs);
    let all: Vec<String> =
        packages
            .into_iter()
            .chain(npm_specs.iter().map(|spec| {
                format!("{spec} (npm, in {})", npm::folder_of(&service.name).display())
            }))
            .collect();
    let mut said = if all.is_empty() {
        "none needed".into()
    } else {
        format!("installed: {}", all.join(", "))
    };
    if !refused.is_empty() {
        said += &format!(
            "\n    Not granted, so not installed: {} (the service may not run without it)",
            refused.join(", ")
        );
    }
    Ok(said)
}

/// Its accounts, then the configuration its plugin writes.
fn configure_step(ctx: &Context, service: &Service, info: &ServiceInfo) -> Result<String> {
    // A unit with a user of its own reads its secret files through a
    // group of its own, which must exist before they are written.
    // A login account (with its home, the first data folder) too.
    if let (true, ServiceUnit::HostWritten(spec @ UnitSpec { user: None, .. })) =
        (ctx.live(), &info.unit)
    {
        match spec.data_folders.first().filter(|_| spec.login_shell) {
            Some(home) => {
                crate::system::accounts::ensure_login(&service.name, home.trim_end_matches('/'))
            }
            None => crate::system::accounts::ensure_group(&service.name).map(|_| ()),
        }
        .map_err(|e| anyhow!("making the accounts of {}: {e}", service.name))?;
    }
    let written = reconfigure(service, ctx.instance(service)?)?;
    Ok(format!(
        "configuration written: {}",
        if written.is_empty() { "(none)".into() } else { written.join(", ") }
    ))
}

/// The unit written (or its drop-in) and started.
fn unit_step(ctx: &Context, service: &Service) -> Result<String> {
    let (unit, file) = write_unit(ctx, service)?;
    if !ctx.live() {
        return Ok(format!(
            "{file} written; not started: --root {} is a folder, not the running system",
            ctx.root.display()
        ));
    }
    block_on(async {
        let systemd = Systemd::connect().await?;
        // The host just wrote the unit or its drop-in.
        systemd.reload().await?;
        systemd.run(Job::Restart, &unit).await?;
        let state = systemd.active_state(&unit).await?;
        if state != "active" {
            bail!(
                "{unit} is {state} after starting; its last log lines:\n{}",
                crate::system::systemd::last_log_lines(&unit, 10)
            );
        }
        Ok(format!("{unit} is running (confined by {file})"))
    })
}

/// The whole firewall again, this service's opening with the others'.
fn firewall_step(ctx: &Context, service: &Service) -> Result<String> {
    let backend = firewall::Backend::detect()?;
    let mine = opening(service);
    let mut all = openings(ctx, Some(&service.name))?;
    all.push(mine.clone());
    firewall::apply(backend, &all)?;
    let ports: Vec<String> = mine.ports.iter().map(|(p, proto)| format!("{p}/{proto}")).collect();
    let mut said = format!(
        "{} open to the LAN: {}; from this computer: {}",
        ports.join(", "),
        if mine.lan { "yes" } else { "no" },
        if mine.localhost { "yes" } else { "only for tor" }
    );
    if mine.lan && backend == firewall::Backend::Nftables {
        let dropping = firewall::other_dropping_tables();
        if !dropping.is_empty() {
            said += &format!(
                "\n    Warning: nftables table(s) {} drop incoming packets, and a drop anywhere wins: \
                 allow these ports there too for allow-lan to work",
                dropping.join(", ")
            );
        }
    }
    Ok(said)
}

/// The onion service published, once the service listens.
fn publish_step(ctx: &Context, service: &mut Service) -> Result<String> {
    let (_, new_key) = onion::ensure_key(&mut service.state)?;
    let first = onion::ensure_first_client(service);
    save(ctx, service)?; // a retry after a failure keeps the address
                         // Reachable is enough: a new publication takes new introduction
                         // points, so an older descriptor leads nowhere.
    let address = onion::publish_now(ctx, service, onion::Uploads::Reachable)?;
    let mut said =
        format!("published{}: {address}", if new_key { " at a new address" } else { "" });
    // Reachable means the service answers too. A unit is active
    // before its program listens; a slow starter (node, PHP) would
    // turn away the first clients, who come as soon as enable
    // returns. It has been starting all through publishing.
    let port = service.record.info.default_target_port;
    if ctx.live() && !block_on(listening(port, LISTEN_WAIT)) {
        said += &format!(
            "; the service does not listen on 127.0.0.1:{port} after {} s more yet",
            LISTEN_WAIT.as_secs()
        );
    }
    if let Some(client) = first {
        said += &format!(" (made the first client, `{client}`)");
    }
    Ok(said)
}

/// How long the unit step waits for the service to listen on its port.
const LISTEN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether something accepts connections on 127.0.0.1:`port` within `within`.
async fn listening(port: u16, within: std::time::Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Ok(_)) = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            tokio::net::TcpStream::connect(("127.0.0.1", port)),
        )
        .await
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

/// Undo one step; returns what it did.
fn undo_step(ctx: &Context, service: &mut Service, step: Step) -> Result<String> {
    match step {
        // Installed packages and written configuration stay: they do nothing
        // while the unit is stopped, and the next enable reuses them.
        Step::Packages => Ok("packages stay installed".into()),
        Step::Configure => Ok("configuration files stay in place".into()),
        Step::Unit => {
            let unit = units::unit_name(&service.name, &service.record.info.unit);
            let file = unit_file(ctx, service);
            let remove = || match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(anyhow!("removing {}: {e}", file.display()))
                }
                _ => Ok(()),
            };
            if ctx.live() && check_shipped(ctx, service).is_err() {
                // Not the service's unit (the enable that failed said so, and
                // wrote nothing): leave it, and its drop-in, alone.
                return Ok(format!(
                    "{unit} left alone: none of {}'s packages ships it",
                    service.name
                ));
            }
            if ctx.live() {
                // Stop it, take its file away, and have systemd forget it.
                block_on(async {
                    let systemd = Systemd::connect().await?;
                    if systemd.active_state(&unit).await? != "inactive" {
                        systemd.run(Job::Stop, &unit).await?;
                    }
                    remove()?;
                    systemd.reload().await
                })?;
            } else {
                remove()?;
            }
            Ok(format!("{unit} stopped; {} removed", crate::display::path(&file)))
        }
        Step::Firewall => {
            firewall::apply(firewall::Backend::detect()?, &openings(ctx, Some(&service.name))?)?;
            Ok("its rules removed".into())
        }
        Step::Publish => {
            let removed = block_on(async {
                let mut found = onion::connect(ctx, false).await?;
                onion::unpublish(&mut found.controller, &service.state).await
            });
            Ok(match removed {
                Ok(true) => "onion service removed".into(),
                Ok(false) => "tor did not hold the onion service".into(),
                // Detached onion services die with their tor.
                Err(e) => format!(
                    "no tor answers, so none holds it ({})",
                    format!("{e:#}").lines().next().unwrap_or("")
                ),
            })
        }
    }
}

/// The declared packages the user granted: Debian's, and npm's.
fn granted_packages(service: &Service) -> (Vec<String>, Vec<String>) {
    let caps = &service.record.info.capabilities;
    let granted = |cap: Capability| service.grant.granted.contains(&cap);
    let debian = caps
        .packages
        .iter()
        .filter(|name| granted(Capability::Package { name: (*name).clone() }))
        .cloned()
        .collect();
    let npm_specs = caps
        .npm_packages
        .iter()
        .filter(|spec| granted(Capability::NpmPackage { spec: (*spec).clone() }))
        .cloned()
        .collect();
    (debian, npm_specs)
}

/// Declared packages the user refused at `plugin add`.
fn refused_packages(service: &Service, debian: &[String], npm_specs: &[String]) -> Vec<String> {
    let caps = &service.record.info.capabilities;
    let debian = caps.packages.iter().filter(|p| !debian.contains(p)).cloned();
    let npm_refused =
        caps.npm_packages.iter().filter(|p| !npm_specs.contains(p)).map(|p| format!("npm:{p}"));
    debian.chain(npm_refused).collect()
}

/// What the firewall must let through for this service: its granted ports.
fn opening(service: &Service) -> Opening {
    let flag = |name| service.value(name) == Some(&OptionValue::Boolean(true));
    let ports = service
        .grant
        .granted
        .iter()
        .filter_map(|c| match c {
            Capability::Port { port, protocol } => Some((*port, *protocol)),
            _ => None,
        })
        .collect();
    Opening {
        service: service.name.clone(),
        ports,
        lan: flag(options::ALLOW_LAN),
        localhost: flag(options::ALLOW_LOCALHOST),
    }
}

/// The openings of every service whose firewall step is done, but `except`.
fn openings(ctx: &Context, except: Option<&str>) -> Result<Vec<Opening>> {
    let mut all = Vec::new();
    for name in ctx.state.plugin_names()? {
        if Some(name.as_str()) == except {
            continue;
        }
        let service = ctx.service(&name)?;
        if service.state.journal.done.contains(&Step::Firewall) {
            all.push(opening(&service));
        }
    }
    Ok(all)
}

/// For the crash tests only: `TAILS_SERVER_TEST_PAUSE_AFTER=enable:unit` makes
/// the command stop after that step's effect, before the journal records it,
/// and wait there to be killed.
fn test_pause(operation: Operation, step: Step) {
    let Ok(at) = std::env::var("TAILS_SERVER_TEST_PAUSE_AFTER") else { return };
    let here = format!(
        "{}:{}",
        if operation == Operation::Enable { "enable" } else { "disable" },
        step.name()
    );
    if at == here {
        crate::notice::warn(format!("paused after {here}"));
        std::thread::sleep(std::time::Duration::from_secs(600));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::bindings::tails::server::types::{Capabilities, PortRequest, Protocol, ServiceInfo};
    use crate::state::{Grant, PluginRecord, ServiceState};

    /// A web service as a plugin would describe it (a packaged unit, one
    /// Debian and one npm package, two ports), with `granted` of what it asks.
    fn service(name: &str, granted: &[&str], options: &[(&str, bool)]) -> Service {
        let port = |port| PortRequest { port, protocol: Protocol::Tcp, purpose: String::new() };
        let info = ServiceInfo {
            name: name.into(),
            name_in_gui: None,
            description: String::new(),
            client_application: String::new(),
            client_application_in_gui: None,
            documentation: String::new(),
            unit: ServiceUnit::Packaged("lighttpd.service".into()),
            default_target_port: 8080,
            default_virtual_port: None,
            icon_name: String::new(),
            persistent_paths: vec![],
            options: vec![],
            capabilities: Capabilities {
                packages: vec!["lighttpd".into()],
                npm_packages: vec!["left-pad@1.3.0".into()],
                config_paths: vec![],
                ports: vec![port(8080), port(8443)],
            },
        };
        let record = PluginRecord {
            sha256: "00".into(),
            contract: "0.4.0".into(),
            publisher: None,
            first_party: None,
            info: info.clone(),
        };
        let granted = granted.iter().map(|c| c.parse().unwrap()).collect();
        let options: BTreeMap<String, OptionValue> =
            options.iter().map(|(k, v)| (k.to_string(), OptionValue::Boolean(*v))).collect();
        Service {
            name: name.into(),
            grant: Grant { sha256: "00".into(), granted },
            specs: options::all_specs(&info),
            state: ServiceState { options, ..Default::default() },
            record,
        }
    }

    const ALL: &[&str] = &[
        "package:lighttpd",
        "npm:left-pad@1.3.0",
        "port:8080/tcp",
        "port:8443/tcp",
        "unit:lighttpd.service",
    ];

    #[test]
    fn a_service_without_its_target_port_or_unit_is_refused_before_any_step() {
        assert!(refuse_ungranted(&service("web", ALL, &[])).is_ok());
        let no_port: Vec<&str> = ALL.iter().copied().filter(|c| *c != "port:8080/tcp").collect();
        let e = refuse_ungranted(&service("web", &no_port, &[])).unwrap_err().to_string();
        assert!(e.contains("port 8080/tcp") && e.contains("add the plugin again"), "{e}");
        let no_unit: Vec<&str> = ALL.iter().copied().filter(|c| !c.starts_with("unit:")).collect();
        let e = refuse_ungranted(&service("web", &no_unit, &[])).unwrap_err().to_string();
        assert!(e.contains("its unit was refused"), "{e}");
    }

    #[test]
    fn one_packaged_unit_runs_one_enabled_service() {
        let web = service("web", ALL, &[]);
        let mut other = service("other", ALL, &[]);
        assert!(refuse_shared_unit(&web, std::slice::from_ref(&other)).is_ok(), "other is off");
        other.state.enabled = true;
        let e = refuse_shared_unit(&web, &[other]).unwrap_err().to_string();
        assert!(e.contains("lighttpd.service runs the service other; disable other first"), "{e}");
    }

    #[test]
    fn only_granted_packages_are_installed_and_the_refused_are_named() {
        let only_debian: Vec<&str> =
            ALL.iter().copied().filter(|c| !c.starts_with("npm:")).collect();
        let web = service("web", &only_debian, &[]);
        let (debian, npm_specs) = granted_packages(&web);
        assert_eq!(
            (debian.as_slice(), npm_specs.as_slice()),
            (&["lighttpd".to_string()][..], &[][..])
        );
        assert_eq!(refused_packages(&web, &debian, &npm_specs), ["npm:left-pad@1.3.0"]);
    }

    /// The firewall opens the granted ports only: to this computer unless the
    /// person turned allow-localhost off, to the LAN only when they turned
    /// allow-lan on.
    #[test]
    fn the_firewall_opening_is_the_granted_ports_and_the_persons_choices() {
        let only_8080: Vec<&str> = ALL.iter().copied().filter(|c| *c != "port:8443/tcp").collect();
        let closed = opening(&service("web", &only_8080, &[]));
        assert_eq!(closed.ports, [(8080, crate::system::Proto::Tcp)]);
        assert!(!closed.lan && closed.localhost, "the defaults");
        let choices = [(options::ALLOW_LAN, true), (options::ALLOW_LOCALHOST, false)];
        let lan = opening(&service("web", ALL, &choices));
        assert_eq!(lan.ports.len(), 2);
        assert!(lan.lan && !lan.localhost);
    }
}
