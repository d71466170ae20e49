//! Enable and disable as job objects: the call returns the job's path at
//! once, the work runs on a thread, and the job tells its steps, progress
//! and result through properties and signals (a polkit prompt or apt can
//! take longer than any D-Bus call should).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tails_server_core::journal::{Operation, Progress, STEPS};
use tails_server_core::requests;
use tails_server_dbus::{status, JOBS_PATH};
use tokio::sync::mpsc;
use zbus::fdo;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedObjectPath;

use crate::work;

/// How long a finished job stays on the bus for a late reader.
const KEPT_AFTER_FINISHING: Duration = Duration::from_secs(300);

/// A job is its starter's: only that user (or root) reads it, and its
/// signals go to the starting connection alone, because its words include the
/// service's onion address.
pub struct Job {
    /// The bus connection that started it (signals go there).
    owner: zbus::names::OwnedUniqueName,
    /// The user who started it.
    owner_uid: u32,
    service: String,
    operation: Operation,
    step: String,
    steps_done: u32,
    status: String,
    result: String,
    history: Vec<String>,
}

impl Job {
    /// Root, or the user who started the job; nobody else reads it.
    async fn readable_by(
        &self,
        conn: &zbus::Connection,
        header: Option<Header<'_>>,
    ) -> fdo::Result<()> {
        // No header: the daemon itself, sending a change to the owner.
        let Some(sender) = header.as_ref().and_then(|h| h.sender()) else { return Ok(()) };
        let uid = fdo::DBusProxy::new(conn)
            .await?
            .get_connection_unix_user(sender.clone().into())
            .await?;
        if uid == 0 || uid == self.owner_uid {
            Ok(())
        } else {
            Err(fdo::Error::AccessDenied("this job was started by another user".into()))
        }
    }

    /// The job's signals go to the connection that started it, and no further.
    fn emitter<'a>(&self, emitter: &SignalEmitter<'a>) -> SignalEmitter<'a> {
        emitter
            .clone()
            .set_destination(zbus::names::BusName::Unique(self.owner.as_ref().to_owned()))
    }
}

#[zbus::interface(name = "org.tails.Server1.Job")]
impl Job {
    #[zbus(property)]
    async fn service(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        self.readable_by(conn, header).await?;
        Ok(self.service.clone())
    }
    #[zbus(property)]
    async fn operation(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        self.readable_by(conn, header).await?;
        Ok(if self.operation == Operation::Enable { "enable" } else { "disable" }.into())
    }
    #[zbus(property)]
    async fn step(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        self.readable_by(conn, header).await?;
        Ok(self.step.clone())
    }
    #[zbus(property)]
    async fn steps_done(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<u32> {
        self.readable_by(conn, header).await?;
        Ok(self.steps_done)
    }
    #[zbus(property)]
    async fn status(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        self.readable_by(conn, header).await?;
        Ok(self.status.clone())
    }
    #[zbus(property)]
    async fn result(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<String> {
        self.readable_by(conn, header).await?;
        Ok(self.result.clone())
    }
    /// Not announced by PropertiesChanged (a broadcast): read it, and follow
    /// the Progress signals.
    #[zbus(property(emits_changed_signal = "false"))]
    async fn history(
        &self,
        #[zbus(header)] header: Option<Header<'_>>,
        #[zbus(connection)] conn: &zbus::Connection,
    ) -> fdo::Result<Vec<String>> {
        self.readable_by(conn, header).await?;
        Ok(self.history.clone())
    }

    #[zbus(signal)]
    async fn progress(emitter: &SignalEmitter<'_>, index: u32, progress: &str) -> zbus::Result<()>;
    #[zbus(signal)]
    async fn finished(
        emitter: &SignalEmitter<'_>,
        succeeded: bool,
        message: &str,
    ) -> zbus::Result<()>;
}

/// The jobs under way, one per service at most.
#[derive(Clone, Default)]
pub struct Jobs {
    running: Arc<Mutex<HashMap<String, OwnedObjectPath>>>,
    next: Arc<AtomicU64>,
}

impl Jobs {
    /// Start enabling or disabling `service`; refused while another job of
    /// the same service runs.
    pub async fn start(
        &self,
        conn: &zbus::Connection,
        header: &Header<'_>,
        service: &str,
        operation: Operation,
    ) -> fdo::Result<OwnedObjectPath> {
        let owner = header
            .sender()
            .ok_or_else(|| fdo::Error::Failed("a call without a sender".into()))?
            .to_owned();
        let owner_uid =
            fdo::DBusProxy::new(conn).await?.get_connection_unix_user(owner.clone().into()).await?;
        let path = OwnedObjectPath::try_from(format!(
            "{JOBS_PATH}/{}",
            self.next.fetch_add(1, Ordering::Relaxed) + 1
        ))
        .map_err(|e| fdo::Error::Failed(e.to_string()))?;
        {
            let mut running = self.running.lock().expect("jobs lock");
            if let Some(other) = running.get(service) {
                return Err(fdo::Error::Failed(format!("{service} is already being enabled or disabled (job {}); wait for it to finish", other.as_str())));
            }
            running.insert(service.to_string(), path.clone());
        }
        let first = if operation == Operation::Enable { STEPS[0] } else { STEPS[STEPS.len() - 1] };
        let job = Job {
            owner: owner.into(),
            owner_uid,
            service: service.into(),
            operation,
            step: first.name().into(),
            steps_done: 0,
            status: status::RUNNING.into(),
            result: String::new(),
            history: Vec::new(),
        };
        if let Err(e) = conn.object_server().at(&path, job).await {
            self.running.lock().expect("jobs lock").remove(service);
            return Err(fdo::Error::Failed(format!("cannot make the job: {e}")));
        }
        tokio::spawn(drive(
            conn.clone(),
            self.clone(),
            path.clone(),
            service.to_string(),
            operation,
        ));
        Ok(path)
    }
}

async fn drive(
    conn: zbus::Connection,
    jobs: Jobs,
    path: OwnedObjectPath,
    service: String,
    operation: Operation,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let name = service.clone();
    let work = work::run(tx, move |ctx| match operation {
        Operation::Enable => requests::enable(ctx, &name),
        Operation::Disable => requests::disable(ctx, &name),
    });
    tokio::pin!(work);
    let mut open = true;
    let outcome = loop {
        tokio::select! {
            p = rx.recv(), if open => match p {
                Some(p) => record(&conn, &path, operation, p).await,
                None => open = false,
            },
            outcome = &mut work => break outcome,
        }
    };
    while let Ok(p) = rx.try_recv() {
        record(&conn, &path, operation, p).await;
    }
    let (succeeded, message) = match &outcome {
        Ok(words) => (true, words.clone()),
        Err(e) => (false, work::words_for_the_bus(e)),
    };
    eprintln!(
        "{} of {service}: {}",
        if operation == Operation::Enable { "enable" } else { "disable" },
        match &outcome {
            Ok(_) => "done".to_string(),
            Err(e) => format!("{e:#}"),
        }
    );
    if let Ok(iface) = conn.object_server().interface::<_, Job>(&path).await {
        let emitter = iface.get().await.emitter(iface.signal_emitter());
        {
            let mut job = iface.get_mut().await;
            job.status = if succeeded { status::SUCCEEDED } else { status::FAILED }.into();
            job.result = message.clone();
            job.step = String::new();
            let _ = job.status_changed(&emitter).await;
            let _ = job.result_changed(&emitter).await;
            let _ = job.step_changed(&emitter).await;
        }
        let _ = Job::finished(&emitter, succeeded, &message).await;
    }
    jobs.running.lock().expect("jobs lock").remove(&service);
    crate::changes::changed(&conn, &service).await;
    tokio::time::sleep(KEPT_AFTER_FINISHING).await;
    let _ = conn.object_server().remove::<Job, _>(&path).await;
}

/// Keep what a job said, move its step on, and signal both.
async fn record(
    conn: &zbus::Connection,
    path: &OwnedObjectPath,
    operation: Operation,
    progress: Progress,
) {
    let Ok(iface) = conn.object_server().interface::<_, Job>(path).await else { return };
    let emitter = iface.get().await.emitter(iface.signal_emitter());
    let mut job = iface.get_mut().await;
    let text = serde_json::to_string(&progress).expect("progress is plain data");
    job.history.push(text.clone());
    let index = (job.history.len() - 1) as u32;
    if let Progress::Done { step, .. } = progress {
        job.steps_done += 1;
        let at = STEPS.iter().position(|s| *s == step).unwrap_or(0);
        let next = match operation {
            Operation::Enable => STEPS.get(at + 1),
            Operation::Disable => at.checked_sub(1).and_then(|i| STEPS.get(i)),
        };
        job.step = next.map(|s| s.name().to_string()).unwrap_or_default();
        let _ = job.step_changed(&emitter).await;
        let _ = job.steps_done_changed(&emitter).await;
    }
    drop(job);
    let _ = Job::progress(&emitter, index, &text).await;
}
