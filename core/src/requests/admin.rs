//! The administrator's requests and the daemon's own: finishing what a crash
//! interrupted, autostart at boot, publishing everything again on the tor in
//! use, and choosing or stopping that tor. Each takes the state lock itself,
//! so that no front end needs to: they run in the CLI's own process (root)
//! or in the daemon.

use std::time::Duration;

use anyhow::Result;

use crate::blocking::block_on;
use crate::context::Context;
use crate::tor::control::{Controller, Endpoint};
use crate::tor::detect::{self, TorSettings};
use crate::{engine, onion};

/// Finish or undo what a crash interrupted and make the firewall match the
/// enabled services; what to say when there was nothing to do.
pub fn repair(ctx: &Context) -> Result<Option<String>> {
    let _lock = ctx.state.lock()?;
    Ok((engine::repair(ctx)? == 0)
        .then(|| "Nothing was interrupted; the firewall matches the enabled services.".into()))
}

/// At boot: bring back what Persistent Storage kept, finish what a crash
/// interrupted, enable the services whose autostart is on (see
/// `engine::autostart`); those that could not be enabled, with why.
pub fn autostart(ctx: &Context, feature_on: bool) -> Result<Vec<(String, anyhow::Error)>> {
    let _lock = ctx.state.lock()?;
    engine::autostart(ctx, feature_on)
}

/// Make the tor in use hold exactly the enabled services; a line per change.
pub fn reconcile(ctx: &Context) -> Result<Vec<String>> {
    let _lock = ctx.state.lock()?;
    let report = block_on(async {
        let mut tor = onion::connect_ready(ctx).await?;
        onion::reconcile(ctx, &mut tor).await
    })?;
    if report.is_empty() {
        return Ok(vec!["Nothing to do: tor holds exactly the enabled services.".into()]);
    }
    Ok(report)
}

/// Use the tor at `control` (`auto`: search again at each use).
pub fn tor_use(ctx: &Context, control: &str, password: Option<String>) -> Result<String> {
    let _lock = ctx.state.lock()?;
    let settings = if control == "auto" {
        TorSettings::default()
    } else {
        control.parse::<Endpoint>()?;
        TorSettings { control: Some(control.into()), password }
    };
    ctx.state.save_tor_settings(&settings)?;
    Ok(match &settings.control {
        Some(c) => format!("Using the tor at {c}."),
        None => "Searching for a tor again at each use.".into(),
    })
}

/// Stop the tor Tails Server started, if it runs.
pub fn tor_stop(ctx: &Context) -> Result<String> {
    Ok(if detect::stop_own(&ctx.state.own_tor_dir())? {
        "Stopped Tails Server's own tor.".into()
    } else {
        "Tails Server's own tor is not running.".into()
    })
}

/// A tor that answered and is bootstrapped, held open so that the daemon
/// knows when it goes away (tor then forgets every onion service).
pub struct TorConnection {
    /// Which tor, in words.
    pub source: String,
    controller: Controller,
}

impl TorConnection {
    /// The tor in use, once it answers and has bootstrapped (within
    /// `bootstrap`); never starts one.
    pub fn open(ctx: &Context, bootstrap: Duration) -> Result<TorConnection> {
        block_on(async {
            let mut found = onion::connect(ctx, false).await?;
            found.controller.wait_bootstrapped(bootstrap).await?;
            Ok(TorConnection { source: found.source, controller: found.controller })
        })
    }

    /// Publish every enabled service on this tor again, at its address; a
    /// line per service published (`NAME: ...`).
    pub fn publish_all(&mut self, ctx: &Context) -> Result<Vec<String>> {
        // The lock is taken outside the async part: it may wait for an
        // enable under way, which needs the core's runtime meanwhile.
        let _lock = ctx.state.lock()?;
        block_on(onion::reconcile(ctx, &mut self.controller))
    }

    /// Wait until tor closes the connection; why it did.
    pub fn wait_closed(&mut self) -> anyhow::Error {
        block_on(self.controller.wait_closed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Paths;

    /// A context on a scratch root: real state files, no system.
    fn scratch() -> (tempfile::TempDir, Context) {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths { root: Some(tmp.path().into()), state_dir: None, persistent_dir: None };
        let ctx = Context::new(&paths).unwrap();
        (tmp, ctx)
    }

    #[test]
    fn tor_use_keeps_a_valid_choice_and_refuses_a_bad_one_unchanged() {
        let (_tmp, ctx) = scratch();
        assert_eq!(
            tor_use(&ctx, "127.0.0.1:9052", None).unwrap(),
            "Using the tor at 127.0.0.1:9052."
        );
        assert_eq!(ctx.state.tor_settings().unwrap().control.as_deref(), Some("127.0.0.1:9052"));
        assert!(tor_use(&ctx, "not an endpoint", None).is_err());
        assert_eq!(ctx.state.tor_settings().unwrap().control.as_deref(), Some("127.0.0.1:9052"));
        assert_eq!(tor_use(&ctx, "auto", None).unwrap(), "Searching for a tor again at each use.");
        assert_eq!(ctx.state.tor_settings().unwrap().control, None);
    }

    #[test]
    fn with_nothing_added_repair_and_autostart_have_nothing_to_do() {
        let (_tmp, ctx) = scratch();
        assert_eq!(
            repair(&ctx).unwrap().as_deref(),
            Some("Nothing was interrupted; the firewall matches the enabled services.")
        );
        assert!(autostart(&ctx, false).unwrap().is_empty());
    }

    /// The requests take the state lock themselves: one that cannot have it
    /// waits for it (a second context, as another process would be).
    #[test]
    fn requests_take_the_state_lock_themselves() {
        let (tmp, ctx) = scratch();
        let held = ctx.state.lock().unwrap();
        let paths = Paths { root: Some(tmp.path().into()), state_dir: None, persistent_dir: None };
        let other = Context::new(&paths).unwrap();
        let waiter = std::thread::spawn(move || tor_use(&other, "auto", None).map(|_| ()));
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!waiter.is_finished(), "tor use went on while another held the lock");
        drop(held);
        waiter.join().unwrap().unwrap();
    }
}
