//! Core requests run on threads of their own: the core is synchronous (it
//! blocks on tor, apt, systemd) and must not hold up the bus. Each request
//! gets a fresh context for the system's own places; what it reports goes
//! to a channel.

use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use tails_server_core::context::{Context, Paths};
use tails_server_core::journal::Progress;
use tokio::sync::{mpsc, oneshot};

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
