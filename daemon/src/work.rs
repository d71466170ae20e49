//! Core requests run on threads of their own: the core is synchronous (it
//! blocks on tor, apt, systemd) and must not hold up the bus. Each request
//! gets a fresh context for the system's own places; what it reports goes
//! to a channel.

use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use tails_server_core::context::{Context, Paths};
use tails_server_core::journal::Progress;
use tokio::sync::{mpsc, oneshot};

/// An error as it crosses the bus: the words a terminal shows (`{e:#}`),
/// or, when they say what to do next, those words with their places kept
/// (`Hinted::to_wire`), so that the CLI and the window each render the next
/// step their own way.
pub fn words_for_the_bus(e: &anyhow::Error) -> String {
    let whole = format!("{e:#}");
    match e.downcast_ref::<tails_server_types::Hinted>() {
        Some(hinted) if whole.contains(&hinted.for_terminal()) => hinted.within(&whole).to_wire(),
        _ => whole,
    }
}

/// Where the daemon works: the system's own places, unless the same
/// variables the CLI reads say otherwise (tests run a daemon on a folder).
pub fn paths() -> &'static Paths {
    static PATHS: OnceLock<Paths> = OnceLock::new();
    PATHS.get_or_init(|| {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(Into::into);
        Paths {
            root: var("TAILS_SERVER_ROOT"),
            state_dir: var("TAILS_SERVER_STATE_DIR"),
            persistent_dir: var("TAILS_SERVER_PERSISTENT_DIR"),
        }
    })
}

/// Run `request` on a thread; its progress goes to `progress` as it comes.
pub async fn run<T: Send + 'static>(
    progress: mpsc::UnboundedSender<Progress>,
    request: impl FnOnce(&Context) -> Result<T> + Send + 'static,
) -> Result<T> {
    let (done, result) = oneshot::channel();
    std::thread::Builder::new()
        .name("request".into())
        .spawn(move || {
            let outcome = Context::new(paths()).and_then(|ctx| {
                let ctx = ctx.with_progress(move |p| {
                    // What a person should know (a warning, a wait, a plugin's
                    // log line) is kept in the journal too, for the administrator.
                    if matches!(
                        p,
                        Progress::Warning { .. } | Progress::Waiting { .. } | Progress::Log { .. }
                    ) {
                        eprintln!("{}", p.line().1);
                    }
                    let _ = progress.send(p.clone());
                });
                request(&ctx)
            });
            let _ = done.send(outcome);
        })
        .map_err(|e| anyhow!("cannot start a worker thread: {e}"))?;
    result.await.map_err(|_| {
        anyhow!("the request stopped without an answer (a bug: see the daemon's log)")
    })?
}

/// Run `request` for its answer alone (what it says on the way is not kept).
pub async fn quiet<T: Send + 'static>(
    request: impl FnOnce(&Context) -> Result<T> + Send + 'static,
) -> Result<T> {
    let (tx, _rx) = mpsc::unbounded_channel();
    run(tx, request).await
}

/// Run `request`, keeping what it said: the lines a person reads, before
/// its own words, so that a caller that cannot follow progress sees it all.
pub async fn run_saying(
    request: impl FnOnce(&Context) -> Result<String> + Send + 'static,
) -> Result<String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let words = run(tx, request).await;
    let mut said = Vec::new();
    while let Ok(p) = rx.try_recv() {
        said.push(p.line().1);
    }
    let words = words?;
    said.push(words);
    Ok(said.join("\n"))
}

#[cfg(test)]
mod tests {
    use anyhow::Context as _;
    use tails_server_types::{Hinted, Next};

    #[test]
    fn a_hinted_error_crosses_the_bus_as_data_and_reads_back_as_the_same_words() {
        let inner: anyhow::Result<()> = Err(anyhow::anyhow!("lighttpd did not start"));
        let e = inner
            .context(Hinted::new("and undoing failed too; run {next}", [Next::Repair]))
            .context("enabling web failed at step `start`")
            .unwrap_err();
        let wire = super::words_for_the_bus(&e);
        assert!(wire.starts_with(tails_server_types::next::HINTED), "{wire}");
        let back = Hinted::from_wire(&wire).unwrap();
        assert_eq!(back.for_terminal(), format!("{e:#}"));
        assert_eq!(
            back.for_window(),
            "enabling web failed at step `start`: and undoing failed too; run \
             “sudo tails-server repair” in a terminal: lighttpd did not start"
        );
        // Words with nothing to do next cross as they are.
        let plain = anyhow::anyhow!("no such thing");
        assert_eq!(super::words_for_the_bus(&plain), "no such thing");
    }
}
