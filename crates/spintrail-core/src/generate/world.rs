//! The simulated estate: per account × region names, ids and ARNs that events refer to, plus the
//! fixed identities (Spinnaker, people, CI, AWS services).

use super::rng::{hash, Rng};

const ALNUM_UP: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX: &[u8] = b"0123456789abcdef";

pub(crate) fn hex_id(h: u64, n: usize) -> String {
    let mut r = Rng::new(h);
    (0..n).map(|_| HEX[r.below(16) as usize] as char).collect()
}

/// Upper-case base32-like id as AWS uses for key and principal ids.
pub(crate) fn upper_id(prefix: &str, h: u64, n: usize) -> String {
    let mut r = Rng::new(h);
    let mut s = String::with_capacity(prefix.len() + n);
    s.push_str(prefix);
    for _ in 0..n {
        s.push(ALNUM_UP[r.below(32) as usize] as char);
    }
    s
}

pub(crate) const APP_NAMES: &[&str] = &[
    "api",
    "web",
    "checkout",
    "payments",
    "search",
    "orders",
    "auth",
    "catalog",
    "ledger",
    "notify",
    "inventory",
    "gateway",
    "reports",
    "billing",
];
const STACKS: &[&str] = &["prod", "staging", "test"];
const INSTANCE_TYPES: &[&str] = &[
    "m5.large",
    "m6i.xlarge",
    "c5.2xlarge",
    "r6g.large",
    "t3.medium",
];

pub(crate) struct App {
    pub cluster: String, // app-stack
    pub version: u32,    // current server group vNNN
    pub lt_id: String,   // launch template of the current server group
    pub ami: String,
    pub instance_type: &'static str,
    pub tg_arn: String,
    pub lb_arn: String,
    pub listener_arn: String,
    pub classic_lb: String,
    pub instances: Vec<String>,
}

impl App {
    /// The name of the app's server group (Auto Scaling group) of a version: `<app>-<stack>-vNNN`.
    pub(crate) fn server_group(&self, version: u32) -> String {
        format!("{}-v{:03}", self.cluster, version)
    }
}

pub(crate) struct EcsCluster {
    pub arn: String,
    pub services: Vec<String>,
    pub tasks: Vec<String>,
    pub container_instances: Vec<String>,
    pub task_defs: Vec<String>,
}

pub(crate) struct World {
    pub account: String,
    pub region: String,
    pub region_index: usize,
    pub seed: u64,
    // Spinnaker
    pub spin_role: String,
    pub spin_role_arn: String,
    pub spin_session_arn: String,
    pub spin_role_pid: String,
    pub spin_principal_id: String,
    pub spin_key_offset: i64,
    pub nat_ips: Vec<String>,
    pub managing_account: String,
    pub managing_instance: String,
    pub managing_role_pid: String,
    // estate
    pub apps: Vec<App>,
    pub ecs: Vec<EcsCluster>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub azs: Vec<String>,
    pub buckets: Vec<String>,
    pub kms_key_arn: String,
    pub trail_bucket: String,
    // other principals
    pub sso_role: String,
    pub sso_role_pid: String,
    pub ci_role_pid: String,
    pub asg_slr_pid: String,
    pub config_slr_pid: String,
    pub office_ips: Vec<String>,
    pub ci_ips: Vec<String>,
}

impl World {
    pub(crate) fn new(
        seed: u64,
        account: &str,
        account_index: usize,
        region: &str,
        region_index: usize,
        spinnaker_role: &str,
        managing_account: &str,
    ) -> World {
        let a = account_index as u64;
        let r = region_index as u64;
        let k = |tag: u64, i: u64| hash(&[seed, 0xA11CE, a, r, tag, i]);
        let ka = |tag: u64| hash(&[seed, 0xACC7, a, tag]);
        let arn_pre = format!("arn:aws:elasticloadbalancing:{region}:{account}");
        let mut rng = Rng::new(k(1, 0));
        let mut names: Vec<usize> = (0..APP_NAMES.len()).collect();
        for i in (1..names.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            names.swap(i, j);
        }
        let apps = names[..8]
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let stack = STACKS[(k(2, i as u64) % 3) as usize];
                let cluster = format!("{}-{}", APP_NAMES[n], stack);
                let i = i as u64;
                App {
                    version: 5 + (k(3, i) % 300) as u32,
                    lt_id: format!("lt-{}", hex_id(k(4, i), 17)),
                    ami: format!("ami-{}", hex_id(k(5, i), 17)),
                    instance_type: INSTANCE_TYPES[(k(6, i) % INSTANCE_TYPES.len() as u64) as usize],
                    tg_arn: format!("{arn_pre}:targetgroup/{cluster}-tg/{}", hex_id(k(7, i), 16)),
                    lb_arn: format!(
                        "{arn_pre}:loadbalancer/app/{cluster}/{}",
                        hex_id(k(8, i), 16)
                    ),
                    listener_arn: format!(
                        "{arn_pre}:listener/app/{cluster}/{}/{}",
                        hex_id(k(8, i), 16),
                        hex_id(k(9, i), 16)
                    ),
                    classic_lb: format!("{cluster}-frontend"),
                    instances: (0..4)
                        .map(|j| format!("i-{}", hex_id(k(10 + j, i), 17)))
                        .collect(),
                    cluster,
                }
            })
            .collect();
        let ecs = ["spinnaker-ecs-prod", "batch-workers"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let i = i as u64;
                let c = format!("arn:aws:ecs:{region}:{account}:cluster/{name}");
                EcsCluster {
                    services: (0..3)
                        .map(|j| {
                            format!(
                                "arn:aws:ecs:{region}:{account}:service/{name}/{}-v{:03}",
                                APP_NAMES[(k(20, i * 8 + j) % 14) as usize],
                                k(21, i * 8 + j) % 200
                            )
                        })
                        .collect(),
                    tasks: (0..4)
                        .map(|j| {
                            format!(
                                "arn:aws:ecs:{region}:{account}:task/{name}/{}",
                                hex_id(k(22, i * 8 + j), 32)
                            )
                        })
                        .collect(),
                    container_instances: (0..2)
                        .map(|j| {
                            format!(
                                "arn:aws:ecs:{region}:{account}:container-instance/{name}/{}",
                                hex_id(k(23, i * 8 + j), 32)
                            )
                        })
                        .collect(),
                    task_defs: (0..2)
                        .map(|j| {
                            format!(
                                "arn:aws:ecs:{region}:{account}:task-definition/{}:{}",
                                APP_NAMES[(k(24, i * 8 + j) % 14) as usize],
                                1 + k(25, i * 8 + j) % 90
                            )
                        })
                        .collect(),
                    arn: c,
                }
            })
            .collect();
        let nat_first = [3u64, 18, 34, 44, 52, 54];
        let nat_ips = (0..3)
            .map(|i| {
                let h = k(30, i);
                format!(
                    "{}.{}.{}.{}",
                    nat_first[(h % 6) as usize],
                    (h >> 8) % 256,
                    (h >> 16) % 256,
                    1 + (h >> 24) % 254
                )
            })
            .collect();
        let spin_role_pid = upper_id("AROA", ka(1), 17);
        let azs = ["a", "b", "c"]
            .iter()
            .map(|z| format!("{region}{z}"))
            .collect();
        World {
            account: account.to_string(),
            region: region.to_string(),
            region_index,
            seed,
            spin_role: spinnaker_role.to_string(),
            spin_role_arn: format!("arn:aws:iam::{account}:role/{spinnaker_role}"),
            spin_session_arn: format!(
                "arn:aws:sts::{account}:assumed-role/{spinnaker_role}/Spinnaker"
            ),
            spin_principal_id: format!("{spin_role_pid}:Spinnaker"),
            spin_role_pid,
            spin_key_offset: (ka(2) % 1800) as i64,
            nat_ips,
            managing_account: managing_account.to_string(),
            managing_instance: format!("i-{}", hex_id(hash(&[seed, 0x3A4A6E]), 17)),
            managing_role_pid: upper_id("AROA", hash(&[seed, 0x3A4A6F]), 17),
            apps,
            ecs,
            subnets: (0..3)
                .map(|i| format!("subnet-{}", hex_id(k(40, i), 17)))
                .collect(),
            security_groups: (0..4)
                .map(|i| format!("sg-{}", hex_id(k(41, i), 17)))
                .collect(),
            azs,
            buckets: vec![
                format!("artifacts-{account}-{region}"),
                format!("build-cache-{}", hex_id(k(43, 0), 8)),
                format!("app-config-{account}"),
            ],
            kms_key_arn: format!(
                "arn:aws:kms:{region}:{account}:key/{}-{}-4{}-a{}-{}",
                hex_id(k(44, 0), 8),
                hex_id(k(44, 1), 4),
                hex_id(k(44, 2), 3),
                hex_id(k(44, 3), 3),
                hex_id(k(44, 4), 12)
            ),
            trail_bucket: format!("cloudtrail-{}", hex_id(hash(&[seed, 0x7A11]), 10)),
            sso_role: format!("AWSReservedSSO_AdministratorAccess_{}", hex_id(ka(3), 16)),
            sso_role_pid: upper_id("AROA", ka(4), 17),
            ci_role_pid: upper_id("AROA", ka(5), 17),
            asg_slr_pid: upper_id("AROA", ka(6), 17),
            config_slr_pid: upper_id("AROA", ka(7), 17),
            office_ips: (0..4)
                .map(|i| format!("198.51.100.{}", 10 + hash(&[seed, 0x0FF1CE, i]) % 200))
                .collect(),
            ci_ips: (0..6)
                .map(|i| {
                    let h = hash(&[seed, 0xC1, i]);
                    format!(
                        "20.{}.{}.{}",
                        30 + h % 200,
                        (h >> 8) % 256,
                        1 + (h >> 16) % 254
                    )
                })
                .collect(),
        }
    }

    /// Start of the Spinnaker credential session (hourly refresh) that covers `t`.
    pub(crate) fn spin_session_start(&self, t: i64) -> i64 {
        let off = self.spin_key_offset;
        (t - off).div_euclid(3600) * 3600 + off
    }

    pub(crate) fn spin_access_key(&self, session_start: i64) -> String {
        upper_id(
            "ASIA",
            hash(&[
                self.seed,
                0x5E55,
                self.account.len() as u64,
                session_start as u64,
            ]) ^ self.spin_role_pid.len() as u64
                ^ hash(&[self.account.parse::<u64>().unwrap_or(0)]),
            16,
        )
    }
}
