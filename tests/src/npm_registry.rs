//! A loopback npm registry, so that the real `npm install` runs in tests
//! without leaving the machine: it serves the packuments and tarballs of
//! packages the test packs from source with `npm pack`. It listens on
//! 127.0.0.1 of the caller's network namespace; its thread stops on drop.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

/// A package as `npm pack` made it.
pub struct Packed {
    pub name: String,
    pub version: String,
    /// Its package.json: npm resolves dependencies from the registry's copy.
    manifest: Value,
    integrity: String,
    shasum: String,
    tarball: Vec<u8>,
}

/// Pack the package whose source is in `dir` (no script runs: it has none
/// for packing).
pub fn pack(dir: &Path) -> Packed {
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new("npm")
        .args(["pack", "--json", "--ignore-scripts", "--pack-destination"])
        .arg(out_dir.path())
        .current_dir(dir)
        .output()
        .expect("running npm pack (is npm installed? scripts/setup installs it)");
    assert!(
        out.status.success(),
        "npm pack in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("npm pack --json");
    let report = &report[0];
    let text = |key: &str| {
        report[key].as_str().unwrap_or_else(|| panic!("npm pack --json has no {key}")).to_string()
    };
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
    Packed {
        name: text("name"),
        version: text("version"),
        integrity: text("integrity"),
        shasum: text("shasum"),
        tarball: std::fs::read(out_dir.path().join(text("filename"))).unwrap(),
        manifest,
    }
}

pub struct NpmRegistry {
    /// `http://127.0.0.1:PORT/`, for `npm_config_registry`.
    pub url: String,
    served: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NpmRegistry {
    pub fn start(packages: Vec<Packed>) -> NpmRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let served = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (url, served, stop) = (url.clone(), served.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if let Some(path) = serve(stream, &url, &packages) {
                                served.lock().unwrap().push(path);
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        };
        NpmRegistry { url, served, stop, thread: Some(thread) }
    }

    /// The paths it answered with 200, in order.
    pub fn served(&self) -> Vec<String> {
        self.served.lock().unwrap().clone()
    }
}

impl Drop for NpmRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answer one request (the connection closes after it); returns the path
/// when it was found.
fn serve(mut stream: TcpStream, url: &str, packages: &[Packed]) -> Option<String> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    // The headers, up to the blank line (bounded).
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .replace("%2f", "/")
        .replace("%2F", "/");
    let found = answer(&path, url, packages);
    let (status, kind, body) = match &found {
        Some((kind, body)) => ("200 OK", *kind, body.clone()),
        None => ("404 Not Found", "application/json", br#"{"error":"not found"}"#.to_vec()),
    };
    let head = format!("HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(&body).ok()?;
    found.map(|_| path)
}

fn tarball_path(p: &Packed) -> String {
    let bare = p.name.rsplit('/').next().unwrap();
    format!("/{}/-/{bare}-{}.tgz", p.name, p.version)
}

fn answer(path: &str, url: &str, packages: &[Packed]) -> Option<(&'static str, Vec<u8>)> {
    if let Some(p) = packages.iter().find(|p| tarball_path(p) == path) {
        return Some(("application/octet-stream", p.tarball.clone()));
    }
    let name = path.strip_prefix('/')?;
    let versions: Vec<&Packed> = packages.iter().filter(|p| p.name == name).collect();
    let latest = versions.last()?;
    let mut entries = serde_json::Map::new();
    for p in &versions {
        let mut manifest = p.manifest.clone();
        manifest["dist"] = json!({
            "tarball": format!("{}{}", url.trim_end_matches('/'), tarball_path(p)),
            "integrity": p.integrity,
            "shasum": p.shasum,
        });
        entries.insert(p.version.clone(), manifest);
    }
    let packument =
        json!({"name": name, "dist-tags": {"latest": latest.version}, "versions": entries});
    Some(("application/json", serde_json::to_vec(&packument).unwrap()))
}
