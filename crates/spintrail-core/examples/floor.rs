//! The decompression floor of a scan: reads and gunzips every `.json.gz` file under a folder with
//! libdeflate on N threads (one file per task, like the reader), and prints the time. Nothing is
//! parsed, so no query over the same files can be faster than this.
//!
//!     cargo run --release -p spintrail-core --example floor -- FOLDER [THREADS] [--decode]
//!
//! Prints one line: `FLOOR <seconds> <files> <compressed bytes> <uncompressed bytes> <threads>
//! <peak RSS bytes>` (the peak from `/proc/self/status` on Linux, else 0).
//! With `--decode`, each file is also decoded by the reader with the columns of the reference
//! query (the reader's cost without the query engine), and the line starts with `DECODE`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use spintrail_core::local::reader::{read_file, Projection};
use spintrail_core::local::source::Partitions;
use spintrail_core::schema::table_schema;

fn gz_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            gz_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "gz") {
            out.push(path);
        }
    }
    Ok(())
}

/// The reference query's columns.
const REFERENCE_COLUMNS: [&str; 5] = [
    "useridentity",
    "eventtime",
    "eventname",
    "errorcode",
    "errormessage",
];

/// Reads, gunzips and decodes one file with the reader; returns (compressed, uncompressed) sizes.
fn decode(path: &Path, projection: &Projection) -> Result<(usize, usize), String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len() as usize;
    // As the scan reads a file under AWSLogs/: partition values from the path.
    let partitions = Partitions::Layout {
        account: String::new(),
        region: String::new(),
        day: String::new(),
    };
    let outcome =
        read_file(path, &partitions, projection, 8192, false).map_err(|e| e.to_string())?;
    Ok((size, outcome.json_bytes))
}

/// Reads and gunzips one file; returns (compressed, uncompressed) sizes.
fn gunzip(path: &Path, inflater: &mut libdeflater::Decompressor) -> Result<(usize, usize), String> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if raw.len() < 18 {
        return Err(format!("{}: not a gzip file", path.display()));
    }
    let tail = &raw[raw.len() - 4..];
    let size = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize;
    let mut out = vec![0u8; size];
    let n = inflater
        .gzip_decompress(&raw, &mut out)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((raw.len(), n))
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let Some(folder) = args.get(1) else {
        return Err("usage: floor FOLDER [THREADS]".into());
    };
    let decoding = args.iter().any(|a| a == "--decode");
    let threads = match args.get(2).filter(|a| *a != "--decode") {
        Some(t) => t.parse::<usize>().map_err(|e| format!("THREADS: {e}"))?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let table = table_schema();
    let columns = REFERENCE_COLUMNS
        .iter()
        .map(|c| table.index_of(c).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, String>>()?;
    let projection = Projection::new(Some(&columns)).map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    gz_files(Path::new(folder), &mut files).map_err(|e| format!("{folder}: {e}"))?;
    files.sort();

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let totals = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<(usize, usize), String> {
                    let mut inflater = libdeflater::Decompressor::new();
                    let (mut packed, mut unpacked) = (0, 0);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else {
                            return Ok((packed, unpacked));
                        };
                        let (p, u) = if decoding {
                            decode(path, &projection)?
                        } else {
                            gunzip(path, &mut inflater)?
                        };
                        packed += p;
                        unpacked += u;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().map_err(|_| "a worker panicked".to_string())?)
            .collect::<Result<Vec<_>, String>>()
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024);
    let packed: usize = totals.iter().map(|t| t.0).sum();
    let unpacked: usize = totals.iter().map(|t| t.1).sum();
    println!(
        "{} {seconds:.4} {} {packed} {unpacked} {} {peak}",
        if decoding { "DECODE" } else { "FLOOR" },
        files.len(),
        threads.max(1)
    );
    Ok(())
}
