//! Synthetic, deterministic CloudTrail logs of a Spinnaker installation.
//!
//! [`generate`] writes gzip JSON files in CloudTrail's S3 layout
//! (`[prefix/]AWSLogs/[org-id/]<account>/CloudTrail/<region>/<yyyy>/<MM>/<dd>/<name>.json.gz`).
//! Everything derives from the seed through a fixed PRNG, so the same options give byte-identical
//! output on every platform and for any thread count.
//!
//! The span `(end - days, end]` is cut into 5-minute cells per account × region. Each cell gets a
//! Spinnaker weight (steady caching-agent polling, heavier during throttling spikes) and a weight
//! for other principals (daily rhythm of people and CI, steady AWS services); the exact event total
//! is split across cells by cumulative rounding, and each cell is rendered on its own seed into one
//! or more files.

mod deploy;
pub mod digests;
mod events;
mod json;
mod rng;
mod time;
mod world;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::{Error, Result};
use deploy::{Exec, PIPELINE_USERS};
use events::{ulid, Actor, Ev, Kind, Outcome, Renderer, Svc, POLL_APIS};
use json::Json;
use rng::{hash, unit, Rng};
use world::{hex_id, World};

/// Options of [`generate`].
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Folder that receives the `AWSLogs/...` tree (created if missing).
    pub out_dir: PathBuf,
    /// Total number of events to write (exact, >= 1).
    pub events: u64,
    /// Events fall in `(end - days, end]`, at whole seconds.
    pub end: DateTime<Utc>,
    /// Length of the span in days (>= 1).
    pub days: u32,
    pub seed: u64,
    /// 12-digit account ids; the first one also hosts Spinnaker's managing role.
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Optional S3 key prefix before `AWSLogs/`.
    pub prefix: Option<String>,
    /// `Some("o-...")` => organization-trail layout `AWSLogs/<org-id>/<account>/...`.
    pub org_id: Option<String>,
    /// Name of the role Spinnaker assumes in each managed account.
    pub spinnaker_role: String,
    /// Target (maximum) number of events per file.
    pub events_per_file: usize,
    /// Worker threads; 0 = all cores.
    pub threads: usize,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            out_dir: PathBuf::from("spintrail-logs"),
            events: 100_000,
            end: Utc::now(),
            days: 1,
            seed: 42,
            accounts: vec!["123456789012".to_string()],
            regions: vec!["us-east-1".to_string(), "us-west-2".to_string()],
            prefix: None,
            org_id: None,
            spinnaker_role: "SpinnakerManagedCA".to_string(),
            events_per_file: 2000,
            threads: 0,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    pub files: u64,
    pub events: u64,
    pub bytes_uncompressed: u64,
    pub bytes_written: u64,
    /// Events whose identity is the Spinnaker role session.
    pub spinnaker_events: u64,
    /// Events with a throttling error code.
    pub throttled_events: u64,
}

const CELL_SECS: i64 = 300;
const MAX_CELLS: u64 = 5_000_000;
const MAX_DAYS: u32 = 3660;
/// Share of all events made by Spinnaker.
const SPINNAKER_SHARE: f64 = 0.70;
/// Share of Spinnaker events that are pipeline deployments (at average daytime activity).
const DEPLOY_SHARE: f64 = 0.04;

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

fn is_region(s: &str) -> bool {
    // e.g. us-east-1, eu-central-2, ap-southeast-3, us-gov-west-1, cn-north-1, il-central-1
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
        && parts[parts.len() - 1].len() <= 2
}

fn validate(o: &GenerateOptions) -> Result<Option<String>> {
    if o.events == 0 {
        return Err(invalid("events must be at least 1"));
    }
    if o.days == 0 || o.days > MAX_DAYS {
        return Err(invalid(format!(
            "days must be between 1 and {MAX_DAYS}, got {}",
            o.days
        )));
    }
    if o.accounts.is_empty() {
        return Err(invalid(
            "accounts must name at least one 12-digit AWS account id",
        ));
    }
    for (i, a) in o.accounts.iter().enumerate() {
        if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!(
                "account id {a:?} is not a 12-digit AWS account id"
            )));
        }
        if o.accounts[..i].contains(a) {
            return Err(invalid(format!("account id {a} is listed twice")));
        }
    }
    if o.regions.is_empty() {
        return Err(invalid(
            "regions must name at least one AWS region (e.g. us-east-1)",
        ));
    }
    for (i, r) in o.regions.iter().enumerate() {
        if !is_region(r) {
            return Err(invalid(format!(
                "region {r:?} is not an AWS region name like us-east-1"
            )));
        }
        if o.regions[..i].contains(r) {
            return Err(invalid(format!("region {r} is listed twice")));
        }
    }
    if o.events_per_file == 0 {
        return Err(invalid("events_per_file must be at least 1"));
    }
    let role = &o.spinnaker_role;
    if role.is_empty()
        || role.len() > 64
        || !role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
    {
        return Err(invalid(format!(
            "spinnaker_role {role:?} is not an IAM role name (1-64 of letters, digits and +=,.@_-)"
        )));
    }
    if let Some(org) = &o.org_id {
        let ok = org.len() > 2
            && org.len() <= 34
            && org.starts_with("o-")
            && org[2..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !ok {
            return Err(invalid(format!(
                "org_id {org:?} is not an AWS Organizations id like o-a1b2c3d4e5"
            )));
        }
    }
    let prefix = match &o.prefix {
        None => None,
        Some(p) => {
            let t = p.trim_matches('/');
            if t.is_empty() {
                None
            } else {
                if t.split('/').any(|c| c.is_empty() || c == "." || c == "..")
                    || t.contains('\\')
                    || t.bytes().any(|b| b.is_ascii_control())
                {
                    return Err(invalid(format!(
                        "prefix {p:?} must be a relative key prefix without empty, '.' or '..' parts"
                    )));
                }
                Some(t.to_string())
            }
        }
    };
    let cells = (o.days as u64 * 288 + 1) * o.accounts.len() as u64 * o.regions.len() as u64;
    if cells > MAX_CELLS {
        return Err(invalid(format!(
            "days × accounts × regions is too large ({} × {} × {}): at most {} account-region-days",
            o.days,
            o.accounts.len(),
            o.regions.len(),
            MAX_CELLS / 288
        )));
    }
    Ok(prefix)
}

/// Daily rhythm of people (0.03 .. 1): US working hours in UTC, quieter weekends.
fn rhythm(t: i64) -> f64 {
    let day = t.div_euclid(86_400);
    let weekday = (day + 4).rem_euclid(7); // 0 = Sunday
    let wk = if weekday == 0 || weekday == 6 {
        0.3
    } else {
        1.0
    };
    let h = t.rem_euclid(86_400) as f64 / 3600.0;
    let d = (h - 18.0).abs().min(24.0 - (h - 18.0).abs());
    0.03 + wk * (-(d / 4.5) * (d / 4.5)).exp()
}

struct Plan<'a> {
    opts: &'a GenerateOptions,
    prefix: Option<String>,
    worlds: Vec<World>,
    slot0: i64,
    lo: i64,
    hi: i64,
    /// hour number of the last event second: forced throttling spike there for the first world.
    last_hour: i64,
    /// Poll API cumulative weights: (all APIs, APIs without global services).
    cum_all: Vec<u32>,
    cum_regional: Vec<u32>,
}

impl Plan<'_> {
    fn spike(&self, world: usize, hour: i64) -> bool {
        (world == 0 && hour == self.last_hour)
            || unit(hash(&[self.opts.seed, 0x5B1CE, world as u64, hour as u64])) < 0.07
    }

    fn cell_bounds(&self, slot: usize) -> (i64, i64) {
        let s = (self.slot0 + slot as i64) * CELL_SECS;
        (s.max(self.lo), (s + CELL_SECS - 1).min(self.hi))
    }

    fn weights(&self, world: usize, slot: usize) -> (f64, f64) {
        let (t0, t1) = self.cell_bounds(slot);
        if t1 < t0 {
            return (0.0, 0.0);
        }
        let len = (t1 - t0 + 1) as f64 / CELL_SECS as f64;
        let w = &self.worlds[world];
        let a = world / self.opts.regions.len();
        let base = if w.region_index == 0 { 1.0 } else { 0.55 } / (1.0 + 0.25 * a as f64);
        let noise = 0.92 + 0.16 * unit(hash(&[self.opts.seed, 0x9015E, world as u64, slot as u64]));
        let spike = if self.spike(world, t0.div_euclid(3600)) {
            1.3
        } else {
            1.0
        };
        let spin = len * base * noise * spike;
        let mid = (t0 + t1) / 2;
        let other = len * base * (0.25 + rhythm(mid)) * (1.0 + 0.3 * (noise - 1.0));
        (spin, other)
    }

    fn throttle_prob(&self, world: usize, t: i64) -> f64 {
        let hour = t.div_euclid(3600);
        if self.spike(world, hour) {
            let level =
                0.10 + 0.20 * unit(hash(&[self.opts.seed, 0x1E7E1, world as u64, hour as u64]));
            let minute = t.div_euclid(60);
            let m = unit(hash(&[self.opts.seed, 0x313, world as u64, minute as u64]));
            level * (0.2 + 2.2 * m * m)
        } else {
            0.006
        }
    }
}

/// A planned cell: which world, which 5-minute slot, how many events, Spinnaker probability.
#[derive(Clone, Copy)]
struct Cell {
    world: u32,
    slot: u32,
    count: u32,
    p_spin: f32,
}

/// Write the synthetic logs; see the module documentation.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    let prefix = validate(opts)?;
    let hi = opts.end.timestamp();
    let lo = hi - opts.days as i64 * 86_400 + 1;
    let slot0 = lo.div_euclid(CELL_SECS);
    let nslots = (hi.div_euclid(CELL_SECS) - slot0 + 1) as usize;
    let mut worlds = Vec::with_capacity(opts.accounts.len() * opts.regions.len());
    for (ai, a) in opts.accounts.iter().enumerate() {
        for (ri, r) in opts.regions.iter().enumerate() {
            worlds.push(World::new(
                opts.seed,
                a,
                ai,
                r,
                ri,
                &opts.spinnaker_role,
                &opts.accounts[0],
            ));
        }
    }
    let cum = |global_ok: bool| -> Vec<u32> {
        let mut acc = 0;
        POLL_APIS
            .iter()
            .map(|a| {
                if global_ok || a.svc != Svc::Iam {
                    acc += a.weight;
                }
                acc
            })
            .collect()
    };
    let plan = Plan {
        opts,
        prefix,
        slot0,
        lo,
        hi,
        last_hour: hi.div_euclid(3600),
        cum_all: cum(true),
        cum_regional: cum(false),
        worlds,
    };

    // Weights of all cells, then the exact split of the event total by cumulative rounding.
    let ncells = plan.worlds.len() * nslots;
    let mut weights = Vec::with_capacity(ncells);
    let (mut s_sum, mut o_sum) = (0.0f64, 0.0f64);
    for wi in 0..plan.worlds.len() {
        for s in 0..nslots {
            let (sp, ot) = plan.weights(wi, s);
            s_sum += sp;
            o_sum += ot;
            weights.push((sp, ot));
        }
    }
    let k_other = if o_sum > 0.0 {
        (1.0 - SPINNAKER_SHARE) * s_sum / (SPINNAKER_SHARE * o_sum)
    } else {
        0.0
    };
    let total_w = s_sum + k_other * o_sum;
    let n = opts.events;
    let mut cells = Vec::new();
    let mut acc = 0.0f64;
    let mut assigned = 0u64;
    for (i, &(sp, ot)) in weights.iter().enumerate() {
        let w = sp + k_other * ot;
        acc += w;
        let target = if i + 1 == ncells {
            n
        } else {
            ((acc / total_w) * n as f64).round().min(n as f64) as u64
        };
        let target = target.max(assigned);
        let mut c = target - assigned;
        assigned = target;
        while c > 0 {
            // u32 per cell is plenty; huge totals spill into repeated cells of the same slot.
            let part = c.min(u32::MAX as u64 / 2) as u32;
            cells.push(Cell {
                world: (i / nslots) as u32,
                slot: (i % nslots) as u32,
                count: part,
                p_spin: if w > 0.0 { (sp / w) as f32 } else { 1.0 },
            });
            c -= part as u64;
        }
    }
    drop(weights);

    let threads = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        opts.threads
    }
    .clamp(1, cells.len().max(1));

    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::io(&opts.out_dir, e))?;
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    let totals: Mutex<GenerateSummary> = Mutex::new(GenerateSummary::default());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut worker = Worker::new();
                while !abort.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= cells.len() {
                        break;
                    }
                    if let Err(e) = worker.cell(&plan, i, &cells[i]) {
                        abort.store(true, Ordering::Relaxed);
                        if let Ok(mut g) = first_err.lock() {
                            g.get_or_insert(e);
                        }
                        break;
                    }
                }
                if let Ok(mut t) = totals.lock() {
                    t.files += worker.sum.files;
                    t.events += worker.sum.events;
                    t.bytes_uncompressed += worker.sum.bytes_uncompressed;
                    t.bytes_written += worker.sum.bytes_written;
                    t.spinnaker_events += worker.sum.spinnaker_events;
                    t.throttled_events += worker.sum.throttled_events;
                }
            });
        }
    });
    if let Some(e) = first_err.into_inner().ok().flatten() {
        return Err(e);
    }
    totals
        .into_inner()
        .map_err(|_| Error::Engine("generator worker panicked".into()))
}

struct Worker {
    renderer: Renderer,
    json: Json,
    gz: Vec<u8>,
    compressor: libdeflater::Compressor,
    evs: Vec<Ev>,
    execs: Vec<Exec>,
    last_dir: Option<PathBuf>,
    sum: GenerateSummary,
}

const FILE_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl Worker {
    fn new() -> Self {
        let lvl = libdeflater::CompressionLvl::new(6).unwrap_or_default();
        Worker {
            renderer: Renderer::new(),
            json: Json::with_capacity(4 << 20),
            gz: Vec::new(),
            compressor: libdeflater::Compressor::new(lvl),
            evs: Vec::new(),
            execs: Vec::new(),
            last_dir: None,
            sum: GenerateSummary::default(),
        }
    }

    /// Plan the events of one cell (deterministic from the seed and the cell).
    fn plan_cell(&mut self, plan: &Plan<'_>, index: usize, cell: &Cell) {
        let seed = plan.opts.seed;
        let wi = cell.world as usize;
        let w = &plan.worlds[wi];
        let (t0, t1) = plan.cell_bounds(cell.slot as usize);
        let len = (t1 - t0 + 1) as u64;
        let mut r = Rng::new(hash(&[
            seed,
            0xCE11,
            wi as u64,
            cell.slot as u64,
            index as u64,
        ]));
        let c = cell.count as u64;
        self.evs.clear();
        self.execs.clear();
        let mut ord = 0u32;
        let mut push = |evs: &mut Vec<Ev>, t: i64, kind: Kind, r: &mut Rng| {
            evs.push(Ev {
                t,
                ord,
                kind,
                seed: r.next_u64(),
            });
            ord += 1;
        };
        // Spinnaker's hourly AssumeRole into the managed account (recorded in the first region).
        if w.region_index == 0 && c >= 2 {
            let start = w.spin_session_start(t1);
            if start >= t0 && start <= t1 {
                push(&mut self.evs, start, Kind::SpinAssume, &mut r);
            }
        }
        // Pipeline executions: bursts of mutating calls, more during working hours.
        let mid = (t0 + t1) / 2;
        let p_spin = cell.p_spin as f64;
        let expect = c as f64 * p_spin * DEPLOY_SHARE * (rhythm(mid) / 0.45).min(2.2) / 15.0;
        let mut n_exec = expect.floor() as u64;
        if r.chance(expect - expect.floor()) {
            n_exec += 1;
        }
        let budget = c / 2;
        let a_idx = wi / plan.opts.regions.len();
        for _ in 0..n_exec {
            let rollback = r.chance(0.1);
            let fail = !rollback && r.chance(0.03);
            // A failing deploy stops at creating the server group, its fifth step.
            let nsteps = if fail {
                5
            } else {
                deploy::steps(rollback).len()
            };
            if (self.evs.len() + nsteps) as u64 > budget {
                break;
            }
            let start = t0 + r.below(len) as i64;
            let exec = Exec {
                app: r.below(w.apps.len() as u64) as usize,
                id: ulid(start as u64 * 1000 + r.below(1000), &mut r),
                user: PIPELINE_USERS[r.below(PIPELINE_USERS.len() as u64) as usize],
                rollback,
                fail,
                new_lt: format!("lt-{}", hex_id(r.next_u64(), 17)),
            };
            let ei = self.execs.len() as u16;
            self.execs.push(exec);
            let mut t = start;
            for step in 0..nsteps {
                push(
                    &mut self.evs,
                    t.min(t1),
                    Kind::Deploy {
                        exec: ei,
                        step: step as u8,
                    },
                    &mut r,
                );
                t += r.range(1, 20) as i64;
            }
        }
        // The rest: caching-agent polling and other principals.
        let cum = if w.region == "us-east-1" {
            &plan.cum_all
        } else {
            &plan.cum_regional
        };
        let other_w = [
            (Actor::Human, 3.0 * rhythm(mid)),
            (Actor::Ci, 1.2 * (0.2 + rhythm(mid))),
            (Actor::Config, 0.35),
            (Actor::ServiceAssume, 0.3),
            (Actor::CloudTrailKms, 0.12),
        ];
        let other_total: f64 = other_w.iter().map(|x| x.1).sum();
        let missing = c - self.evs.len() as u64;
        for _ in 0..missing {
            let t = t0 + r.below(len) as i64;
            if r.chance(p_spin) {
                let api = r.weighted(cum);
                let a = &POLL_APIS[api];
                let denied = (a_idx == 0 && a.name == "ListSecrets")
                    || (a_idx == 1 && a.svc == Svc::CloudFormation)
                    || r.chance(0.0005);
                let outcome = if denied {
                    Outcome::Denied
                } else if r.chance((plan.throttle_prob(wi, t) * a.throttle).min(0.9)) {
                    Outcome::Throttled
                } else {
                    Outcome::Ok
                };
                push(
                    &mut self.evs,
                    t,
                    Kind::Poll {
                        api: api as u8,
                        outcome,
                    },
                    &mut r,
                );
            } else {
                let mut x = r.f64() * other_total;
                let mut actor = Actor::Config;
                for &(a, wgt) in &other_w {
                    if x < wgt {
                        actor = a;
                        break;
                    }
                    x -= wgt;
                }
                push(&mut self.evs, t, Kind::Other { actor }, &mut r);
            }
        }
        self.evs.sort_unstable_by_key(|e| (e.t, e.ord));
    }

    fn cell(&mut self, plan: &Plan<'_>, index: usize, cell: &Cell) -> Result<()> {
        self.plan_cell(plan, index, cell);
        let w = &plan.worlds[cell.world as usize];
        let opts = plan.opts;
        let epf = opts.events_per_file;
        let n = self.evs.len();
        let nfiles = n.div_ceil(epf).max(1);
        let mut dir = opts.out_dir.clone();
        if let Some(p) = &plan.prefix {
            dir.extend(p.split('/'));
        }
        dir.push("AWSLogs");
        if let Some(org) = &opts.org_id {
            dir.push(org);
        }
        dir.push(&w.account);
        dir.push("CloudTrail");
        dir.push(&w.region);
        let (t0, _) = plan.cell_bounds(cell.slot as usize);
        let (folder, _) = time::folder_and_stamp(t0);
        dir.extend(folder.split('/'));
        if self.last_dir.as_deref() != Some(dir.as_path()) {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            self.last_dir = Some(dir.clone());
        }
        let mut name_rng = Rng::new(hash(&[
            opts.seed,
            0xF11E,
            cell.world as u64,
            cell.slot as u64,
            index as u64,
        ]));
        for f in 0..nfiles {
            let a = f * n / nfiles;
            let b = (f + 1) * n / nfiles;
            let chunk = &self.evs[a..b];
            // Named as CloudTrail names a delivery: after the minute of its last record.
            let Some(last) = chunk.last() else { continue };
            let (_, stamp) = time::folder_and_stamp(last.t);
            let suffix: String = (0..16)
                .map(|_| FILE_ALNUM[name_rng.below(FILE_ALNUM.len() as u64) as usize] as char)
                .collect();
            let path = dir.join(format!(
                "{}_CloudTrail_{}_{}_{}.json.gz",
                w.account, w.region, stamp, suffix
            ));
            self.json.clear();
            self.json.obj();
            self.json.key("Records");
            self.json.arr();
            for ev in chunk {
                self.renderer.render(&mut self.json, w, &self.execs, ev);
                if ev.kind.by_spinnaker(&self.execs) {
                    self.sum.spinnaker_events += 1;
                }
                if matches!(
                    ev.kind,
                    Kind::Poll {
                        outcome: Outcome::Throttled,
                        ..
                    }
                ) {
                    self.sum.throttled_events += 1;
                }
            }
            self.json.end_arr();
            self.json.end_obj();
            let raw = &self.json.buf;
            let bound = self.compressor.gzip_compress_bound(raw.len());
            self.gz.resize(bound, 0);
            let written = self
                .compressor
                .gzip_compress(raw, &mut self.gz)
                .map_err(|e| Error::io(&path, std::io::Error::other(format!("gzip: {e:?}"))))?;
            write_file(&path, &self.gz[..written])?;
            self.sum.files += 1;
            self.sum.events += chunk.len() as u64;
            self.sum.bytes_uncompressed += raw.len() as u64;
            self.sum.bytes_written += written as u64;
        }
        Ok(())
    }
}

fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data).map_err(|e| Error::io(path, e))
}
