//! A one-line progress report on stderr (objects and bytes done of the total), drawn only when
//! stderr is a terminal, at most a few times a second.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Progress of a set of object transfers.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total_objects: u64,
    total_bytes: u64,
    objects: AtomicU64,
    bytes: AtomicU64,
    enabled: bool,
    drawn: AtomicBool,
    last: Mutex<Option<Instant>>,
}

const EVERY: Duration = Duration::from_millis(200);

fn megabytes(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1_000_000.0)
}

impl Progress {
    /// A report for `objects` objects of `bytes` bytes; silent unless stderr is a terminal.
    pub fn new(label: &str, objects: u64, bytes: u64) -> Self {
        Progress {
            label: label.to_string(),
            total_objects: objects,
            total_bytes: bytes,
            objects: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            enabled: objects > 0 && std::io::stderr().is_terminal(),
            drawn: AtomicBool::new(false),
            last: Mutex::new(None),
        }
    }

    /// Counts one object of `bytes` bytes done and redraws when due.
    pub fn done(&self, bytes: u64) {
        let objects = self.objects.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if !self.enabled {
            return;
        }
        let finished = objects >= self.total_objects;
        if let Ok(mut last) = self.last.lock() {
            let due = last.is_none_or(|t| t.elapsed() >= EVERY);
            if !(due || finished) {
                return;
            }
            *last = Some(Instant::now());
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r{}: {objects}/{} objects, {}/{} MB{}",
                self.label,
                self.total_objects,
                megabytes(total),
                megabytes(self.total_bytes),
                if finished { "\n" } else { "" }
            );
            let _ = err.flush();
            self.drawn.store(!finished, Ordering::Relaxed);
        }
    }
}

impl Drop for Progress {
    /// Ends a line left unfinished (a query stopped early, a failure).
    fn drop(&mut self) {
        if self.drawn.load(Ordering::Relaxed) {
            let _ = writeln!(std::io::stderr());
        }
    }
}
