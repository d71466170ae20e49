//! What every client of the daemon does the same way (the CLI and the
//! window): follow a job to its end, and read an error as the daemon's words.

use futures_util::StreamExt;

use crate::{status, JobProxy};
use tails_server_types::{Hinted, Progress};

/// The daemon's refusal or error as a terminal shows it (what to do next as
/// the command to type).
pub fn words(e: zbus::Error) -> String {
    for_terminal(&raw(e))
}

/// Words from the daemon as a terminal shows them.
pub fn for_terminal(words: &str) -> String {
    Hinted::from_wire(words).map(|h| h.for_terminal()).unwrap_or_else(|| words.to_string())
}

/// Words from the daemon as a window shows them (what to do next as the
/// window's control, or the command with where to type it).
pub fn for_window(words: &str) -> String {
    Hinted::from_wire(words).map(|h| h.for_window()).unwrap_or_else(|| words.to_string())
}

/// The daemon's refusal or error as it sent it (see `for_terminal` and
/// `for_window`); anything else says it came from talking to the daemon.
pub fn raw(e: zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(_, Some(text), _) => text,
        zbus::Error::FDO(fdo) => match *fdo {
            zbus::fdo::Error::AccessDenied(text)
            | zbus::fdo::Error::Failed(text)
            | zbus::fdo::Error::InvalidArgs(text) => text,
            other => other.to_string(),
        },
        other => format!("talking to tails-serverd: {other}"),
    }
}

/// The question in a daemon's answer that a change needs the person's
/// agreement first ([`crate::NEEDS_CONFIRMATION`] then the question).
pub fn question(words: &str) -> Option<&str> {
    words.strip_prefix(crate::NEEDS_CONFIRMATION)
}

/// Follow the job at `path` (`what`: "the enable of web"): `show` each thing
/// it says once, in order, then its result or its error, in words as the
/// daemon sent them (`for_terminal`, `for_window`).
pub async fn follow(
    conn: &zbus::Connection,
    path: zbus::zvariant::OwnedObjectPath,
    what: &str,
    mut show: impl FnMut(Progress),
) -> Result<String, String> {
    // Not cached: a status read must reach the daemon, so that a daemon that
    // died is noticed instead of a stale "running".
    let job = JobProxy::builder(conn)
        .path(path)
        .map(|b| b.cache_properties(zbus::proxy::CacheProperties::No))
        .map_err(raw)?
        .build()
        .await
        .map_err(raw)?;
    let gone = |e: zbus::Error| {
        format!("tails-serverd stopped before {what} finished ({e}); its next start finishes or undoes it")
    };
    let parse = |text: &str| {
        serde_json::from_str::<Progress>(text)
            .map_err(|e| format!("the daemon said something this program cannot read ({e})"))
    };
    // Subscribed before reading the history: nothing is missed.
    let mut said = job.receive_progress().await.map_err(raw)?;
    let mut finished = job.receive_finished().await.map_err(raw)?;
    let mut shown = 0usize;
    for p in job.history().await.map_err(gone)? {
        show(parse(&p)?);
        shown += 1;
    }
    loop {
        let status = job.status().await.map_err(gone)?;
        if status != status::RUNNING {
            // Whatever was said before it finished and not seen yet.
            for p in job.history().await.map_err(gone)?.iter().skip(shown) {
                show(parse(p)?);
            }
            let result = job.result().await.map_err(gone)?;
            return if status == status::SUCCEEDED { Ok(result) } else { Err(result) };
        }
        tokio::select! {
            Some(signal) = said.next() => {
                if let Ok(args) = signal.args() {
                    if args.index as usize == shown {
                        show(parse(args.progress)?);
                        shown += 1;
                    }
                }
            }
            Some(_) = finished.next() => {}
            // The finished signal is what ends the wait; the status is read
            // again now and then in case it was missed.
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
        }
    }
}
