//! Which tor to drive, in order: the one the user configured; Tails'
//! (onion-grater's port 951, then control port 9052 as root); Debian's control socket;
//! 127.0.0.1:9051; Tails Server's own tor, launched if none answers (as
//! OnionShare does).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tails_server_types::{Hinted, Next};

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use super::control::{AuthMethod, Controller, Endpoint};

/// How long to wait for one candidate to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long our own tor may take to open its control socket.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// What the user configured (`tails-server tor use ...`), in `STATE/tor.json` (0600).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TorSettings {
    pub control: Option<String>,
    pub password: Option<String>,
}

/// A connected, authenticated controller and where it came from.
pub struct Found {
    pub controller: Controller,
    pub source: String,
    pub method: AuthMethod,
}

/// On Tails, onion-grater comes first, for root too (the daemon, the CLI as
/// root): what Tails Server may say to tor is then exactly its profile
/// (`data/onion-grater/tails-server.yml`), whatever a bug or a crafted
/// string would make it send; a command it filters fails, and is not tried
/// elsewhere. Tor's own port 9052 (root only, by Tails' firewall) only when
/// onion-grater does not answer at all.
fn candidates(own_dir: &Path) -> Vec<(Endpoint, &'static str)> {
    let mut list =
        vec![(Endpoint::Tcp("127.0.0.1:951".into()), "Tails' onion-grater (control-port filter)")];
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        list.push((Endpoint::Tcp("127.0.0.1:9052".into()), "Tails' tor (control port 9052)"));
    }
    list.push((Endpoint::Unix("/run/tor/control".into()), "Debian's tor (/run/tor/control)"));
    list.push((Endpoint::Tcp("127.0.0.1:9051".into()), "tor on 127.0.0.1:9051"));
    list.push((Endpoint::Unix(own_dir.join("control")), "Tails Server's own tor"));
    list
}

async fn try_one(endpoint: &Endpoint, password: Option<&str>) -> Result<(Controller, AuthMethod)> {
    let mut controller = Controller::connect(endpoint, PROBE_TIMEOUT).await?;
    let method = controller.authenticate(password).await?;
    Ok((controller, method))
}

/// Find a tor to use. With `launch`, start our own when none answers.
pub async fn find(settings: &TorSettings, own_dir: &Path, launch: bool) -> Result<Found> {
    let password = settings.password.as_deref();
    // The environment wins (tests, one-off use); then the saved setting.
    let configured =
        std::env::var("TAILS_SERVER_TOR_CONTROL").ok().or_else(|| settings.control.clone());
    if let Some(configured) = configured {
        let endpoint: Endpoint = configured.parse()?;
        let (controller, method) = try_one(&endpoint, password).await.with_context(|| {
            Hinted::new(
                format!(
                    "the configured tor at {endpoint} does not answer (change it with {{next}})"
                ),
                [Next::ChooseTor],
            )
        })?;
        return Ok(Found { controller, source: format!("configured tor at {endpoint}"), method });
    }
    let mut tried = Vec::new();
    for (endpoint, label) in candidates(own_dir) {
        match try_one(&endpoint, password).await {
            Ok((controller, method)) => {
                return Ok(Found { controller, source: label.to_string(), method })
            }
            Err(e) => tried.push(format!("{label}: {e:#}")),
        }
    }
    if !launch {
        bail!("no tor answers:\n  {}", tried.join("\n  "));
    }
    let endpoint = launch_own(own_dir).await?;
    let (controller, method) = try_one(&endpoint, password)
        .await
        .context("Tails Server's own tor started but does not answer")?;
    Ok(Found { controller, source: "Tails Server's own tor (just started)".into(), method })
}

/// Start a tor of our own with its own data folder and control socket; it
/// keeps running (daemon) so that published services outlive this command.
async fn launch_own(dir: &Path) -> Result<Endpoint> {
    crate::fsutil::open_private(dir)?;
    let socket = dir.join("control");
    let _ = std::fs::remove_file(&socket);
    let arg = |p: PathBuf| p.display().to_string();
    let status = Command::new("tor")
        .args(["--RunAsDaemon", "1", "--SocksPort", "0", "--CookieAuthentication", "1"])
        .args(["--DataDirectory", &arg(dir.join("data"))])
        .args(["--ControlSocket", &arg(socket.clone())])
        .args(["--CookieAuthFile", &arg(dir.join("control_auth_cookie"))])
        .args(["--PidFile", &arg(dir.join("tor.pid"))])
        .args(["--Log", &format!("notice file {}", arg(dir.join("tor.log")))])
        .stdout(std::process::Stdio::null())
        .status()
        .context("no tor answers, and starting one failed (is the `tor` package installed?)")?;
    if !status.success() {
        bail!(
            "no tor answers, and starting Tails Server's own tor failed; see {}",
            dir.join("tor.log").display()
        );
    }
    let deadline = tokio::time::Instant::now() + LAUNCH_TIMEOUT;
    while !socket.exists() {
        if tokio::time::Instant::now() >= deadline {
            bail!("Tails Server's own tor did not open its control socket within {LAUNCH_TIMEOUT:?}; see {}", dir.join("tor.log").display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Endpoint::Unix(socket))
}

/// Stop our own tor, by the pid in its pid file. Never touches any other tor.
pub fn stop_own(dir: &Path) -> Result<bool> {
    let pid_file = dir.join("tor.pid");
    let pid: i32 = match std::fs::read_to_string(&pid_file) {
        Ok(text) => {
            text.trim().parse().with_context(|| format!("{} is damaged", pid_file.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    // Only if that pid is still a tor (pids get reused).
    let is_tor =
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "tor");
    // SAFETY: kill(2) with a pid read from our own pid file, checked above.
    let alive = is_tor && unsafe { libc::kill(pid, libc::SIGTERM) } == 0;
    let _ = std::fs::remove_file(&pid_file);
    Ok(alive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_order_ends_with_our_own() {
        let order: Vec<String> =
            candidates(Path::new("/s/tor")).into_iter().map(|(e, _)| e.to_string()).collect();
        let without_root: Vec<&str> =
            order.iter().map(String::as_str).filter(|e| *e != "127.0.0.1:9052").collect();
        assert_eq!(
            without_root,
            ["127.0.0.1:951", "unix:/run/tor/control", "127.0.0.1:9051", "unix:/s/tor/control"]
        );
    }

    #[test]
    fn endpoints_parse() {
        assert_eq!(
            "unix:/run/tor/control".parse::<Endpoint>().unwrap(),
            Endpoint::Unix("/run/tor/control".into())
        );
        assert_eq!(
            "/run/tor/control".parse::<Endpoint>().unwrap(),
            Endpoint::Unix("/run/tor/control".into())
        );
        assert_eq!(
            "tcp:127.0.0.1:9051".parse::<Endpoint>().unwrap(),
            Endpoint::Tcp("127.0.0.1:9051".into())
        );
        for bad in ["9051", "localhost:", ":9051", "host:port"] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
        }
    }
}
