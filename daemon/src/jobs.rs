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
use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedObjectPath;

use crate::work;

/// How long a finished job stays on the bus for a late reader.
const KEPT_AFTER_FINISHING: Duration = Duration::from_secs(300);

pub struct Job {
    service: String,
    operation: Operation,
    step: String,
    steps_done: u32,
    status: String,
    result: String,
    history: Vec<String>,
}

#[zbus::interface(name = "org.tails.Server1.Job")]
impl Job {
    #[zbus(property)]
    fn service(&self) -> String {
        self.service.clone()
    }
    #[zbus(property)]
    fn operation(&self) -> String {
        match self.operation {
            Operation::Enable => "enable".into(),
            Operation::Disable => "disable".into(),
        }
    }
    #[zbus(property)]
    fn step(&self) -> String {
        self.step.clone()
    }
    #[zbus(property)]
    fn steps_done(&self) -> u32 {
        self.steps_done
    }
    #[zbus(property)]
    fn status(&self) -> String {
        self.status.clone()
    }
    #[zbus(property)]
    fn result(&self) -> String {
        self.result.clone()
    }
    #[zbus(property)]
    fn history(&self) -> Vec<String> {
        self.history.clone()
    }

    #[zbus(signal)]
    async fn progress(emitter: &SignalEmitter<'_>, index: u32, progress: &str) -> zbus::Result<()>;
    #[zbus(signal)]
    async fn finished(emitter: &SignalEmitter<'_>, succeeded: bool, message: &str) -> zbus::Result<()>;
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
    pub async fn start(&self, conn: &zbus::Connection, service: &str, operation: Operation) -> fdo::Result<OwnedObjectPath> {
        let path = OwnedObjectPath::try_from(format!("{JOBS_PATH}/{}", self.next.fetch_add(1, Ordering::Relaxed) + 1)).map_err(|e| fdo::Error::Failed(e.to_string()))?;
        {
            let mut running = self.running.lock().expect("jobs lock");
            if let Some(other) = running.get(service) {
                return Err(fdo::Error::Failed(format!("{service} is already being enabled or disabled (job {}); wait for it to finish", other.as_str())));
            }
            running.insert(service.to_string(), path.clone());
        }
        let first = if operation == Operation::Enable { STEPS[0] } else { STEPS[STEPS.len() - 1] };
        let job = Job { service: service.into(), operation, step: first.name().into(), steps_done: 0, status: status::RUNNING.into(), result: String::new(), history: Vec::new() };
        if let Err(e) = conn.object_server().at(&path, job).await {
            self.running.lock().expect("jobs lock").remove(service);
            return Err(fdo::Error::Failed(format!("cannot make the job: {e}")));
        }
        tokio::spawn(drive(conn.clone(), self.clone(), path.clone(), service.to_string(), operation));
        Ok(path)
    }
}

async fn drive(conn: zbus::Connection, jobs: Jobs, path: OwnedObjectPath, service: String, operation: Operation) {
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
        Err(e) => (false, format!("{e:#}")),
    };
    eprintln!("{} of {service}: {}", if operation == Operation::Enable { "enable" } else { "disable" }, if succeeded { "done" } else { &message });
    if let Ok(iface) = conn.object_server().interface::<_, Job>(&path).await {
        let emitter = iface.signal_emitter().clone();
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
    crate::server::changed(&conn, &service).await;
    tokio::time::sleep(KEPT_AFTER_FINISHING).await;
    let _ = conn.object_server().remove::<Job, _>(&path).await;
}

/// Keep what a job said, move its step on, and signal both.
async fn record(conn: &zbus::Connection, path: &OwnedObjectPath, operation: Operation, progress: Progress) {
    let Ok(iface) = conn.object_server().interface::<_, Job>(path).await else { return };
    let emitter = iface.signal_emitter().clone();
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
    let _ = job.history_changed(&emitter).await;
    drop(job);
    let _ = Job::progress(&emitter, index, &text).await;
}
