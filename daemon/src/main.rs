//! `tails-serverd`: Tails Server's core on the system bus, so that the
//! desktop user's window and CLI can manage services without being root.
//! Started by D-Bus activation through its systemd unit (`Type=dbus`); logs
//! to standard error, which systemd keeps in the journal.

mod changes;
mod jobs;
mod polkit;
mod server;
mod tor_watch;
mod work;

use anyhow::{Context as _, Result};
use tails_server_core::requests::admin;
use tails_server_dbus::{BUS_NAME, PATH};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match serve().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tails-serverd: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<()> {
    // Finish what a crash (of this daemon, of the machine) interrupted
    // before taking requests.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let repaired = work::run(tx, admin::repair).await;
    while let Ok(p) = rx.try_recv() {
        eprintln!("{}", p.line().1);
    }
    if let Err(e) = repaired {
        eprintln!("tails-serverd: repair at start failed: {e:#}");
    }
    let server = server::Server { jobs: jobs::Jobs::default() };
    let conn = zbus::connection::Builder::system()?
        .serve_at(PATH, server)?
        .name(BUS_NAME)?
        .build()
        .await
        .with_context(|| format!("cannot serve {BUS_NAME} on the system bus"))?;
    eprintln!("tails-serverd: serving {BUS_NAME}");
    let (conn, runtime) = (conn.clone(), tokio::runtime::Handle::current());
    tor_watch::spawn(move |service| {
        let (conn, service) = (conn.clone(), service.to_string());
        runtime.spawn(async move { changes::changed(&conn, &service).await });
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    eprintln!("tails-serverd: stopping");
    Ok(())
}
