//! Keeping services up when tor restarts. tor forgets the onion services it
//! was given when it stops; the watcher holds a control connection, and when
//! tor closes it and later answers again (or answers for the first time after
//! the daemon started), publishes every enabled service again at the same
//! address, with no command from anyone. It never starts a tor itself.

use std::time::{Duration, Instant};

use tails_server_core::context::Context;
use tails_server_core::requests::admin::TorConnection;

/// How often to try tor again while it does not answer.
const RETRY: Duration = Duration::from_millis(500);
/// How long a tor that answers may take to bootstrap before publishing.
const BOOTSTRAP: Duration = Duration::from_secs(120);

/// Watch tor on a thread of its own (the core's tor client is synchronous
/// at its edges); `changed` is called with each service published again.
pub fn spawn(changed: impl Fn(&str) + Send + 'static) {
    std::thread::Builder::new()
        .name("tor-watch".into())
        .spawn(move || watch(changed))
        .expect("a thread for the tor watcher");
}

fn watch(changed: impl Fn(&str)) {
    // Say "no tor" once per outage, not every retry.
    let mut said_absent = false;
    loop {
        let ctx = match Context::new(crate::work::paths()) {
            Ok(ctx) => ctx,
            Err(e) => {
                eprintln!("tor watcher: {e:#}");
                std::thread::sleep(RETRY * 20);
                continue;
            }
        };
        let mut found = match TorConnection::open(&ctx, BOOTSTRAP) {
            Ok(found) => found,
            Err(e) => {
                if !said_absent {
                    eprintln!("tor watcher: no tor answers ({e:#}); trying again every {RETRY:?}");
                    said_absent = true;
                }
                std::thread::sleep(RETRY);
                continue;
            }
        };
        said_absent = false;
        let answered = Instant::now();
        match found.publish_all(&ctx) {
            Ok(report) if report.is_empty() => eprintln!(
                "tor watcher: tor answers ({}); it holds every enabled service",
                found.source
            ),
            Ok(report) => {
                for line in &report {
                    eprintln!("tor watcher: {line}");
                    if let Some((name, _)) = line.split_once(':') {
                        changed(name);
                    }
                }
                eprintln!(
                    "tor watcher: every enabled service is published, {:.2} s after tor answered",
                    answered.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                eprintln!("tor watcher: publishing again failed: {e:#}; trying again");
                std::thread::sleep(RETRY);
                continue;
            }
        }
        let why = found.wait_closed();
        eprintln!("tor watcher: lost tor ({why:#}); publishing again when it answers");
    }
}
