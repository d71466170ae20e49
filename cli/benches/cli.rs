//! Benchmark (not a test): prints figures, asserts nothing.
//!
//! - time and peak memory of `plugin add` (compile + describe + store),
//!   fresh state each run: two Rust plugins and the C, Python and
//!   JavaScript SDKs' examples;
//! - wall time and peak memory (max RSS) of `tails-server mumble info`, and of
//!   `mumble set-option` (which loads the plugin from the compiled-component
//!   cache and runs it), with a warm cache.
//!
//! Run: `cargo bench -p tails-server --bench cli` (builds in release).
//! Goal from the issue: info under 20 ms and under 30 MB.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tails_server_testkit::{fixtures, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_tails-server");
const RUNS: usize = 20;

/// Run once; wall time and the child's peak RSS in KiB (from wait4).
fn measure(sandbox: &Sandbox, args: &[&str]) -> (Duration, i64) {
    let start = Instant::now();
    // Reaped by wait4 below, which also gives its peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = sandbox
        .command_as(BIN.as_ref(), args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: plain wait4 on our own child, with zeroed out-parameters.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert_eq!(pid, child.id() as i32);
    assert_eq!(status, 0, "tails-server {args:?} failed");
    (elapsed, usage.ru_maxrss)
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list; there is nothing to test here.
    }
    println!("tails-server CLI benchmark ({RUNS} runs each, median; binary {BIN})");
    // The SDKs' examples beside the Rust plugins: C (180 KB), Python (19 MB,
    // most of it CPython) and JavaScript (12 MB, most of it SpiderMonkey),
    // each compiled once at add.
    for (name, file, runs) in [
        ("mumble", fixtures::MUMBLE, 5),
        ("web", fixtures::WEB, 5),
        ("csite (C)", fixtures::C_CSITE, 5),
        ("pysite (Python)", fixtures::PYTHON_PYSITE, 3),
        ("jssite (JavaScript)", fixtures::JS_JSSITE, 3),
    ] {
        let measured: Vec<(Duration, i64)> = (0..runs)
            .map(|_| {
                let sandbox = Sandbox::new(BIN);
                measure(&sandbox, &["plugin", "add", file, "--yes"])
            })
            .collect();
        let peak = measured.iter().map(|r| r.1).max().unwrap();
        let wall = median(measured.into_iter().map(|r| r.0).collect());
        println!(
            "plugin add {name:<16}  {:>9.1} ms   peak RSS {:>5.1} MB",
            wall.as_secs_f64() * 1e3,
            peak as f64 / 1024.0
        );
    }

    let sandbox = Sandbox::new(BIN);
    sandbox.ok(&["plugin", "add", fixtures::MUMBLE, "--yes"]);
    for (label, args) in [
        ("mumble info", vec!["mumble", "info"]),
        ("mumble set-option (runs the plugin)", vec!["mumble", "set-option", "max-users", "50"]),
    ] {
        let runs: Vec<(Duration, i64)> = (0..RUNS).map(|_| measure(&sandbox, &args)).collect();
        let peak = runs.iter().map(|r| r.1).max().unwrap();
        let wall = median(runs.into_iter().map(|r| r.0).collect());
        println!(
            "{label:<36} {:>5.1} ms   peak RSS {:>5.1} MB",
            wall.as_secs_f64() * 1e3,
            peak as f64 / 1024.0
        );
    }
}
