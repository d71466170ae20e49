//! An async client for tor's control protocol over a unix socket or TCP.
//!
//! Every command the host sends is built by a function of [`commands`], so
//! that the onion-grater profile can be tested against exactly those shapes.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::{timeout, Instant};

use super::keys::OnionKey;
use super::reply::{argument, Message, Parser};

/// How long one reply may take before the connection is given up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest line accepted from tor.
const MAX_LINE: usize = 64 * 1024;

/// Where tor's control port is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(String),
    Unix(PathBuf),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "{addr}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl std::str::FromStr for Endpoint {
    type Err = anyhow::Error;
    /// `unix:/run/tor/control`, `/run/tor/control`, `127.0.0.1:9051` or `tcp:127.0.0.1:9051`.
    fn from_str(s: &str) -> Result<Self> {
        if let Some(path) = s.strip_prefix("unix:") {
            return Ok(Endpoint::Unix(path.into()));
        }
        if s.starts_with('/') {
            return Ok(Endpoint::Unix(s.into()));
        }
        let addr = s.strip_prefix("tcp:").unwrap_or(s);
        let (host, port) =
            addr.rsplit_once(':').ok_or_else(|| anyhow!("`{s}`: write unix:/PATH or HOST:PORT"))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            bail!("`{s}`: write unix:/PATH or HOST:PORT");
        }
        Ok(Endpoint::Tcp(addr.into()))
    }
}

/// The commands the host sends after authenticating, and only these.
pub mod commands {
    use super::OnionKey;

    pub const GETINFO_DETACHED: &str = "GETINFO onions/detached";
    pub const GETINFO_BOOTSTRAP: &str = "GETINFO status/bootstrap-phase";
    pub const SETEVENTS_HS_DESC: &str = "SETEVENTS HS_DESC";

    /// Publish with a stored key, detached (it outlives this connection), with
    /// client authorization when `clients` (x25519 public keys, base32) is not empty.
    pub fn add_onion(
        key: &OnionKey,
        virtual_port: u16,
        target_port: u16,
        clients: &[String],
    ) -> String {
        let flags = if clients.is_empty() { "Detach" } else { "Detach,V3Auth" };
        let mut command = format!(
            "ADD_ONION ED25519-V3:{} Flags={flags} Port={virtual_port},127.0.0.1:{target_port}",
            key.to_base64()
        );
        for client in clients {
            command.push_str(&format!(" ClientAuthV3={client}"));
        }
        command
    }

    pub fn del_onion(service_id: &str) -> String {
        format!("DEL_ONION {service_id}")
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

pub struct Controller {
    stream: BufReader<Box<dyn Stream>>,
    parser: Parser,
    events: VecDeque<Message>,
    pub endpoint: Endpoint,
}

/// How the controller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    SafeCookie,
    Cookie,
    Password,
    Null,
}

impl Controller {
    pub async fn connect(endpoint: &Endpoint, within: Duration) -> Result<Self> {
        let stream: Box<dyn Stream> = match endpoint {
            Endpoint::Tcp(addr) => Box::new(
                timeout(within, tokio::net::TcpStream::connect(addr))
                    .await
                    .map_err(|_| anyhow!("timed out"))??,
            ),
            Endpoint::Unix(path) => Box::new(
                timeout(within, tokio::net::UnixStream::connect(path))
                    .await
                    .map_err(|_| anyhow!("timed out"))??,
            ),
        };
        Ok(Controller {
            stream: BufReader::new(stream),
            parser: Parser::default(),
            events: VecDeque::new(),
            endpoint: endpoint.clone(),
        })
    }

    /// The next reply or event, each line within [`REPLY_TIMEOUT`].
    async fn read_message(&mut self) -> Result<Message> {
        self.read_message_within(REPLY_TIMEOUT).await
    }

    /// The next reply or event, each line within `limit`: events come when
    /// tor has something to say, which may be later than a reply would.
    async fn read_message_within(&mut self, limit: Duration) -> Result<Message> {
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = timeout(
                limit,
                (&mut self.stream).take(MAX_LINE as u64).read_until(b'\n', &mut line),
            )
            .await
            .map_err(|_| anyhow!("tor did not answer within {limit:?}"))??;
            if n == 0 {
                bail!("tor closed the control connection");
            }
            if line.last() != Some(&b'\n') {
                bail!("tor sent a line longer than {MAX_LINE} bytes");
            }
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            if let Some(message) = self.parser.push_line(&text)? {
                return Ok(message);
            }
        }
    }

    /// Send one command and return its reply; events that arrive meanwhile
    /// are kept for [`Controller::next_event`].
    pub async fn command(&mut self, command: &str) -> Result<Message> {
        debug_assert!(!command.contains(['\r', '\n']));
        self.stream.get_mut().write_all(format!("{command}\r\n").as_bytes()).await?;
        loop {
            let message = self.read_message().await?;
            if message.is_event() {
                self.events.push_back(message);
            } else {
                return Ok(message);
            }
        }
    }

    /// Like [`Controller::command`], but a non-250 reply is an error naming the command's verb.
    pub async fn ok(&mut self, command: &str) -> Result<Message> {
        let reply = self.command(command).await?;
        if !reply.is_ok() {
            let verb = command.split(' ').next().unwrap_or(command);
            bail!("tor refused {verb}: {} {}", reply.status, reply.summary());
        }
        Ok(reply)
    }

    /// Authenticate with the best method PROTOCOLINFO offers.
    pub async fn authenticate(&mut self, password: Option<&str>) -> Result<AuthMethod> {
        let info = self.ok("PROTOCOLINFO 1").await?;
        let auth =
            info.lines.iter().find_map(|l| l.text.strip_prefix("AUTH ")).unwrap_or("").to_string();
        let methods: Vec<String> =
            argument(&auth, "METHODS").unwrap_or_default().split(',').map(str::to_string).collect();
        let has = |m: &str| methods.iter().any(|x| x == m);
        let cookie = argument(&auth, "COOKIEFILE").map(|path| {
            std::fs::read(&path).with_context(|| format!("reading tor's cookie {path}"))
        });
        let cookie_error = match &cookie {
            Some(Err(e)) => format!(" ({e:#})"),
            _ => String::new(),
        };
        let cookie = cookie.and_then(Result::ok).filter(|c| c.len() == 32);
        let method = match cookie {
            Some(cookie) if has("SAFECOOKIE") => {
                self.safecookie(&cookie).await?;
                AuthMethod::SafeCookie
            }
            Some(cookie) if has("COOKIE") => {
                self.ok(&format!("AUTHENTICATE {}", hex::encode(cookie))).await?;
                AuthMethod::Cookie
            }
            _ if has("HASHEDPASSWORD") && password.is_some() => {
                let quoted = password.unwrap().replace('\\', "\\\\").replace('"', "\\\"");
                self.ok(&format!("AUTHENTICATE \"{quoted}\"")).await?;
                AuthMethod::Password
            }
            _ if has("NULL") => {
                self.ok("AUTHENTICATE").await?;
                AuthMethod::Null
            }
            _ => bail!(
                "cannot authenticate to tor at {}: it offers {}{cookie_error}",
                self.endpoint,
                methods.join(", ")
            ),
        };
        Ok(method)
    }

    async fn safecookie(&mut self, cookie: &[u8]) -> Result<()> {
        const SERVER_KEY: &[u8] = b"Tor safe cookie authentication server-to-controller hash";
        const CLIENT_KEY: &[u8] = b"Tor safe cookie authentication controller-to-server hash";
        let mut client_nonce = [0u8; 32];
        getrandom::fill(&mut client_nonce).map_err(|e| anyhow!("random: {e}"))?;
        let reply =
            self.ok(&format!("AUTHCHALLENGE SAFECOOKIE {}", hex::encode(client_nonce))).await?;
        let text = reply.lines[0]
            .text
            .strip_prefix("AUTHCHALLENGE ")
            .unwrap_or(&reply.lines[0].text)
            .to_string();
        let server_hash = hex::decode(argument(&text, "SERVERHASH").context("no SERVERHASH")?)?;
        let server_nonce = hex::decode(argument(&text, "SERVERNONCE").context("no SERVERNONCE")?)?;
        let mac = |key: &[u8]| {
            let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
            mac.update(cookie);
            mac.update(&client_nonce);
            mac.update(&server_nonce);
            mac
        };
        // Tor proves it knows the cookie before we prove we do.
        mac(SERVER_KEY).verify_slice(&server_hash).map_err(|_| {
            anyhow!(
                "tor's SAFECOOKIE server hash is wrong: this is not the tor whose cookie we read"
            )
        })?;
        let client_hash = mac(CLIENT_KEY).finalize().into_bytes();
        self.ok(&format!("AUTHENTICATE {}", hex::encode(client_hash))).await?;
        Ok(())
    }

    /// (progress 0-100, summary) from `GETINFO status/bootstrap-phase`.
    pub async fn bootstrap(&mut self) -> Result<(u8, String)> {
        let reply = self.ok(commands::GETINFO_BOOTSTRAP).await?;
        let phase = reply.values("status/bootstrap-phase").into_iter().next().unwrap_or_default();
        let progress = argument(&phase, "PROGRESS").and_then(|p| p.parse().ok()).unwrap_or(0);
        Ok((progress, argument(&phase, "SUMMARY").unwrap_or_default()))
    }

    /// Poll (not sleep blindly) until tor has bootstrapped, or say why not.
    pub async fn wait_bootstrapped(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let (progress, summary) = self.bootstrap().await?;
            if progress >= 100 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "tor at {} is not connected to the Tor network yet ({progress}% bootstrapped: {summary}); \
                     try again once Tor is ready",
                    self.endpoint
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Service IDs of the detached onion services tor holds.
    pub async fn detached(&mut self) -> Result<Vec<String>> {
        Ok(self.ok(commands::GETINFO_DETACHED).await?.values("onions/detached"))
    }

    /// Publish; returns the service ID tor reports.
    pub async fn add_onion(
        &mut self,
        key: &OnionKey,
        virtual_port: u16,
        target_port: u16,
        clients: &[String],
    ) -> Result<String> {
        let reply = self.ok(&commands::add_onion(key, virtual_port, target_port, clients)).await?;
        reply
            .values("ServiceID")
            .into_iter()
            .next()
            .context("tor's ADD_ONION reply has no ServiceID")
    }

    pub async fn del_onion(&mut self, service_id: &str) -> Result<()> {
        self.ok(&commands::del_onion(service_id)).await.map(|_| ())
    }

    pub async fn subscribe_hs_desc(&mut self) -> Result<()> {
        self.ok(commands::SETEVENTS_HS_DESC).await.map(|_| ())
    }

    /// Wait (after [`Controller::subscribe_hs_desc`]) until the new
    /// descriptor of each of `service_ids` is uploaded as `wait` says: to one
    /// HSDir it was announced to (the service is reachable: a client asks a
    /// few of them), or, after a moment's quiet that shows no upload is still
    /// to be announced, to every HSDir tor started uploading to, so that no
    /// HSDir still serves an older one (e.g. with a removed client's key). At least one upload per service must succeed;
    /// on timeout the error names the REASONs of the uploads that failed.
    pub async fn wait_uploaded(
        &mut self,
        service_ids: &[String],
        wait: Uploads,
        within: Duration,
    ) -> Result<()> {
        // Uploads to all HSDirs start together; a moment of quiet after the
        // last UPLOAD event means every upload has been announced.
        const SETTLE: Duration = Duration::from_millis(1500);
        let deadline = Instant::now() + within;
        let mut progress: Vec<UploadProgress> =
            service_ids.iter().map(|_| UploadProgress::default()).collect();
        let mut last_announce = Instant::now();
        loop {
            let done = match wait {
                // Every upload announced so far has answered: tor announces
                // a descriptor's uploads together, before any can answer.
                Uploads::Reachable => progress.iter().all(UploadProgress::finished),
                Uploads::Every => {
                    progress.iter().all(UploadProgress::finished)
                        && Instant::now() >= last_announce + SETTLE
                }
            };
            if done {
                return Ok(());
            }
            let event = match self.events.pop_front() {
                Some(event) => event,
                None => {
                    let now = Instant::now();
                    if now >= deadline {
                        if progress.iter().all(|p| p.uploaded > 0) {
                            return Ok(());
                        }
                        let reasons: Vec<String> =
                            progress.iter().flat_map(|p| p.reasons.iter().cloned()).collect();
                        let why = if reasons.is_empty() {
                            "no upload reported".to_string()
                        } else {
                            format!("uploads failed: {}", reasons.join(", "))
                        };
                        bail!("the onion service's descriptor was not uploaded within {within:?} ({why})");
                    }
                    let settling =
                        wait == Uploads::Every && progress.iter().all(UploadProgress::finished);
                    let wake =
                        if settling { (last_announce + SETTLE).min(deadline) } else { deadline };
                    // Waiting for events, not for a reply: a quiet tor (HSDirs
                    // slow to answer) is not a dead one until the deadline.
                    let wait = wake.saturating_duration_since(now);
                    match timeout(wait, self.read_message_within(wait + Duration::from_secs(1)))
                        .await
                    {
                        Ok(message) => message?,
                        Err(_) => continue,
                    }
                }
            };
            for (id, p) in service_ids.iter().zip(progress.iter_mut()) {
                if p.take(&event.lines[0].text, id) {
                    last_announce = Instant::now();
                }
            }
        }
    }

    /// Wait until tor closes the control connection (it stopped or is
    /// restarting); returns why. With no events asked for, tor says nothing
    /// meanwhile; anything it does say is dropped.
    pub async fn wait_closed(&mut self) -> anyhow::Error {
        loop {
            if let Err(e) = self.read_message_within(Duration::from_secs(24 * 3600)).await {
                return e;
            }
        }
    }
}

/// How far publishing waits for descriptor uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploads {
    /// The HSDirs tor announced uploads to have answered: clients, which
    /// ask some of them, find the service.
    Reachable,
    /// Every HSDir has it: no older descriptor (one that let a removed
    /// client in) is served any more.
    Every,
}

/// Descriptor uploads of one service, from HS_DESC events.
#[derive(Debug, Default)]
struct UploadProgress {
    pending: std::collections::BTreeSet<String>,
    uploaded: usize,
    reasons: Vec<String>,
}

impl UploadProgress {
    /// Account for one event line; true when it announced a new upload.
    fn take(&mut self, text: &str, service_id: &str) -> bool {
        let words: Vec<&str> = text.split(' ').collect();
        if words.len() < 5 || words[0] != "HS_DESC" || words[2] != service_id {
            return false;
        }
        let hsdir = words[4].to_string();
        match words[1] {
            "UPLOAD" => return self.pending.insert(hsdir),
            "UPLOADED" => {
                self.pending.remove(&hsdir);
                self.uploaded += 1;
            }
            "FAILED" => {
                self.pending.remove(&hsdir);
                self.reasons.push(argument(text, "REASON").unwrap_or_else(|| "UNKNOWN".into()));
            }
            _ => {}
        }
        false
    }

    fn finished(&self) -> bool {
        self.uploaded > 0 && self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::UploadProgress;

    #[test]
    fn uploads_finish_when_every_hsdir_answered() {
        let id = "kx2os2ne7icrbytdghrlnqxinyngz24y3llphf5u2bpkyhmmwxhwmsyd";
        let mut p = UploadProgress::default();
        assert!(p.take(&format!("HS_DESC UPLOAD {id} UNKNOWN $AA~r1 desc1 HSDIR_INDEX=00"), id));
        assert!(p.take(&format!("HS_DESC UPLOAD {id} UNKNOWN $BB~r2 desc1 HSDIR_INDEX=01"), id));
        assert!(!p.take("HS_DESC UPLOAD otherservice UNKNOWN $CC~r3 d HSDIR_INDEX=02", id));
        p.take(&format!("HS_DESC UPLOADED {id} UNKNOWN $AA~r1"), id);
        assert!(!p.finished());
        p.take(&format!("HS_DESC FAILED {id} UNKNOWN $BB~r2 REASON=UPLOAD_REJECTED"), id);
        assert!(p.finished());
        assert_eq!(p.reasons, ["UPLOAD_REJECTED"]);
    }
}
