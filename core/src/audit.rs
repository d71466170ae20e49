//! The append-only audit log of what plugins asked the broker for.
//!
//! One line per request: time, plugin, action, target, outcome and reason.
//! Requests come from untrusted plugins, so every field is written with Rust's
//! debug escaping: no plugin can forge a line. Secrets (file contents) are never
//! logged, only paths.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> Self {
        AuditLog { path }
    }

    /// Record one request. `outcome` is `allowed`, `denied`, `invalid` or
    /// `failed`. Failing to log is reported on stderr but does not change the
    /// outcome (the refusal itself already wrote nothing).
    pub fn record(&self, plugin: &str, action: &str, target: &str, outcome: &str, reason: &str) {
        // Targets and reasons quote what a plugin asked for: only their
        // starts are kept, so that a line is at most about 1 KB (with the
        // broker's lines per call, every byte a plugin can cause is bounded).
        let (plugin, target, reason) =
            (bounded(plugin, 64), bounded(target, MAX_TARGET), bounded(reason, MAX_REASON));
        let line = format!("{} plugin={plugin:?} action={action} target={target:?} outcome={outcome} reason={reason:?}\n", utc_now());
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            crate::notice::warn(format!(
                "could not write the audit log {}: {e}",
                self.path.display()
            ));
        }
    }
}

/// The most of a target and of a reason a line keeps, in characters.
pub const MAX_TARGET: usize = 256;
pub const MAX_REASON: usize = 384;

/// The start of `s`, and how much was left out.
fn bounded(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((at, _)) => format!("{}… ({} more bytes not logged)", &s[..at], s.len() - at),
    }
}

/// The current time as RFC 3339 UTC, to the second.
pub fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_781), (2026, 11, 24));
    }

    #[test]
    fn a_line_is_bounded_whatever_the_plugin_asks() {
        let tmp = tempfile::tempdir().unwrap();
        let log = AuditLog::new(tmp.path().join("audit.log"));
        let huge = "x".repeat(10 << 20);
        log.record(
            &huge,
            "write-config",
            &huge,
            "denied",
            &format!("{huge} is not a declared path"),
        );
        let text = std::fs::read_to_string(tmp.path().join("audit.log")).unwrap();
        assert!(text.len() < 1024, "{} bytes", text.len());
        assert!(text.contains("more bytes not logged"), "{text}");
    }

    #[test]
    fn lines_cannot_be_forged() {
        let tmp = tempfile::tempdir().unwrap();
        let log = AuditLog::new(tmp.path().join("audit.log"));
        log.record("evil", "write-config", "/etc/x\n2026 plugin=\"good\"", "denied", "no");
        let text = std::fs::read_to_string(tmp.path().join("audit.log")).unwrap();
        assert_eq!(text.lines().count(), 1);
    }
}
