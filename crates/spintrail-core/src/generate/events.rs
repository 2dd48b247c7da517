//! Event kinds, the API catalogue and the JSON rendering of one CloudTrail record.

use super::deploy::Exec;
use super::json::Json;
use super::rng::{hash, Rng};
use super::time::{iso, sts_expiration};
use super::world::{hex_id, upper_id, World};

/// AWS services that appear in the generated logs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Svc {
    Ec2,
    AutoScaling,
    Monitoring,
    Elb,
    Elbv2,
    Ecs,
    AppAutoScaling,
    CloudFormation,
    Iam,
    SecretsManager,
    ServiceDiscovery,
    Sts,
    S3,
    Kms,
    Ecr,
    CloudTrail,
}

impl Svc {
    /// `(eventSource, IAM action prefix, endpoint host prefix)`: one row per service.
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Svc::Ec2 => ("ec2.amazonaws.com", "ec2", "ec2"),
            Svc::AutoScaling => ("autoscaling.amazonaws.com", "autoscaling", "autoscaling"),
            Svc::Monitoring => ("monitoring.amazonaws.com", "cloudwatch", "monitoring"),
            Svc::Elb | Svc::Elbv2 => (
                "elasticloadbalancing.amazonaws.com",
                "elasticloadbalancing",
                "elasticloadbalancing",
            ),
            Svc::Ecs => ("ecs.amazonaws.com", "ecs", "ecs"),
            Svc::AppAutoScaling => (
                "application-autoscaling.amazonaws.com",
                "application-autoscaling",
                "application-autoscaling",
            ),
            Svc::CloudFormation => (
                "cloudformation.amazonaws.com",
                "cloudformation",
                "cloudformation",
            ),
            Svc::Iam => ("iam.amazonaws.com", "iam", "iam"),
            Svc::SecretsManager => (
                "secretsmanager.amazonaws.com",
                "secretsmanager",
                "secretsmanager",
            ),
            Svc::ServiceDiscovery => (
                "servicediscovery.amazonaws.com",
                "servicediscovery",
                "servicediscovery",
            ),
            Svc::Sts => ("sts.amazonaws.com", "sts", "sts"),
            Svc::S3 => ("s3.amazonaws.com", "s3", "s3"),
            Svc::Kms => ("kms.amazonaws.com", "kms", "kms"),
            Svc::Ecr => ("ecr.amazonaws.com", "ecr", "api.ecr"),
            Svc::CloudTrail => ("cloudtrail.amazonaws.com", "cloudtrail", "cloudtrail"),
        }
    }

    pub(crate) fn source(self) -> &'static str {
        self.names().0
    }

    /// IAM action prefix.
    fn iam_prefix(self) -> &'static str {
        self.names().1
    }

    fn host_prefix(self) -> &'static str {
        self.names().2
    }

    /// Throttling (errorCode, errorMessage) as CloudTrail records it for this service.
    /// The protocol of the service's API, which decides how its error codes are spelt.
    fn protocol(self) -> Protocol {
        match self {
            Svc::Ec2 => Protocol::Ec2,
            Svc::AutoScaling
            | Svc::Monitoring
            | Svc::Elb
            | Svc::Elbv2
            | Svc::CloudFormation
            | Svc::Iam
            | Svc::Sts => Protocol::Query,
            Svc::S3 => Protocol::RestXml,
            Svc::Ecs
            | Svc::AppAutoScaling
            | Svc::SecretsManager
            | Svc::ServiceDiscovery
            | Svc::Kms
            | Svc::Ecr
            | Svc::CloudTrail => Protocol::Json,
        }
    }

    /// Throttling (errorCode, errorMessage) as CloudTrail records it for this service.
    pub(crate) fn throttle(self) -> (&'static str, &'static str) {
        match self.protocol() {
            Protocol::Ec2 => ("Client.RequestLimitExceeded", "Request limit exceeded."),
            Protocol::Query => ("Throttling", "Rate exceeded"),
            Protocol::RestXml => ("SlowDown", "Please reduce your request rate."),
            Protocol::Json => ("ThrottlingException", "Rate exceeded"),
        }
    }

    fn denied_code(self) -> &'static str {
        match self.protocol() {
            Protocol::Ec2 => "Client.UnauthorizedOperation",
            Protocol::Query | Protocol::RestXml => "AccessDenied",
            Protocol::Json => "AccessDeniedException",
        }
    }

    fn api_version(self) -> Option<&'static str> {
        match self {
            Svc::Elb => Some("2012-06-01"),
            Svc::Elbv2 => Some("2015-12-01"),
            _ => None,
        }
    }
}

/// API protocols, as far as error codes go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Protocol {
    /// EC2's own query protocol (`Client.` codes).
    Ec2,
    Query,
    RestXml,
    Json,
}

/// Request-parameter shapes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum P {
    Raw(&'static str),
    Null,
    Images,
    LtVersions,
    ClassicLb,
    ClassicLbTags,
    LbArn,
    ListenerArn,
    TgArn,
    EcsCluster,
    EcsServices,
    EcsTasks,
    EcsContainerInstances,
    TaskDef,
}

/// One API polled by clouddriver's caching agents.
pub(crate) struct PollApi {
    pub svc: Svc,
    pub name: &'static str,
    pub weight: u32,
    /// Relative proneness to throttling (1.0 = average).
    pub throttle: f64,
    pub params: P,
}

const fn poll(svc: Svc, name: &'static str, weight: u32, throttle: f64, params: P) -> PollApi {
    PollApi {
        svc,
        name,
        weight,
        throttle,
        params,
    }
}

// Request parameters of listing calls, as CloudTrail records them.
const ALL_INSTANCES: &str = r#"{"instancesSet":{},"filterSet":{}}"#;
const ALL_SECURITY_GROUPS: &str =
    r#"{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}"#;
pub(super) const ALL_SUBNETS: &str = r#"{"subnetSet":{},"filterSet":{}}"#;
const ALL_VPCS: &str = r#"{"vpcSet":{},"filterSet":{}}"#;
const ALL_KEY_PAIRS: &str = r#"{"keySet":{},"filterSet":{}}"#;
const ALL_ADDRESSES: &str = r#"{"publicIpsSet":{},"allocationIdsSet":{},"filterSet":{}}"#;
const ALL_RESERVED_INSTANCES: &str = r#"{"reservedInstancesSet":{},"filterSet":{}}"#;
const ALL_LAUNCH_TEMPLATES: &str = r#"{"DescribeLaunchTemplatesRequest":{"MaxResults":1000}}"#;
const ALL_INSTANCE_TYPES: &str = r#"{"DescribeInstanceTypesRequest":{"MaxResults":100}}"#;
const MAX_RECORDS: &str = r#"{"maxRecords":100}"#;
const MAX_RESULTS: &str = r#"{"maxResults":100}"#;
const PAGE_SIZE: &str = r#"{"pageSize":400}"#;
const ECS_NAMESPACE: &str = r#"{"serviceNamespace":"ecs"}"#;

// One API a row: service, API, weight, throttling proneness, request parameters.
#[rustfmt::skip]
pub(crate) static POLL_APIS: &[PollApi] = &[
    poll(Svc::Ec2,              "DescribeInstances",              60, 1.2, P::Raw(ALL_INSTANCES)),
    poll(Svc::Ec2,              "DescribeImages",                 25, 1.0, P::Images),
    poll(Svc::Ec2,              "DescribeSecurityGroups",         25, 0.8, P::Raw(ALL_SECURITY_GROUPS)),
    poll(Svc::Ec2,              "DescribeSubnets",                25, 0.6, P::Raw(ALL_SUBNETS)),
    poll(Svc::Ec2,              "DescribeVpcs",                   10, 0.5, P::Raw(ALL_VPCS)),
    poll(Svc::Ec2,              "DescribeLaunchTemplates",        18, 0.8, P::Raw(ALL_LAUNCH_TEMPLATES)),
    poll(Svc::Ec2,              "DescribeLaunchTemplateVersions", 18, 0.8, P::LtVersions),
    poll(Svc::Ec2,              "DescribeInstanceTypes",           4, 0.5, P::Raw(ALL_INSTANCE_TYPES)),
    poll(Svc::Ec2,              "DescribeKeyPairs",                5, 0.5, P::Raw(ALL_KEY_PAIRS)),
    poll(Svc::Ec2,              "DescribeAddresses",               5, 0.5, P::Raw(ALL_ADDRESSES)),
    poll(Svc::Ec2,              "DescribeReservedInstances",       3, 0.5, P::Raw(ALL_RESERVED_INSTANCES)),
    poll(Svc::AutoScaling,      "DescribeAutoScalingGroups",      50, 1.3, P::Raw(MAX_RECORDS)),
    poll(Svc::AutoScaling,      "DescribePolicies",               22, 1.6, P::Raw(MAX_RECORDS)),
    poll(Svc::AutoScaling,      "DescribeScheduledActions",       12, 1.0, P::Raw(MAX_RECORDS)),
    poll(Svc::AutoScaling,      "DescribeLaunchConfigurations",   10, 0.8, P::Raw(MAX_RECORDS)),
    poll(Svc::Monitoring,       "DescribeAlarms",                 22, 1.4, P::Raw(MAX_RECORDS)),
    poll(Svc::Elb,              "DescribeLoadBalancers",          10, 1.5, P::Raw(PAGE_SIZE)),
    poll(Svc::Elb,              "DescribeLoadBalancerAttributes",  8, 1.0, P::ClassicLb),
    poll(Svc::Elb,              "DescribeTags",                    6, 1.0, P::ClassicLbTags),
    poll(Svc::Elb,              "DescribeInstanceHealth",         10, 1.2, P::ClassicLb),
    poll(Svc::Elbv2,            "DescribeLoadBalancers",          16, 1.8, P::Raw(PAGE_SIZE)),
    poll(Svc::Elbv2,            "DescribeListeners",              12, 1.5, P::LbArn),
    poll(Svc::Elbv2,            "DescribeRules",                  10, 1.5, P::ListenerArn),
    poll(Svc::Elbv2,            "DescribeTargetGroups",           16, 2.0, P::Raw(PAGE_SIZE)),
    poll(Svc::Elbv2,            "DescribeTargetGroupAttributes",  12, 1.5, P::TgArn),
    poll(Svc::Elbv2,            "DescribeLoadBalancerAttributes",  8, 1.2, P::LbArn),
    poll(Svc::Elbv2,            "DescribeTargetHealth",           45, 2.5, P::TgArn),
    poll(Svc::Ecs,              "ListClusters",                    6, 0.8, P::Raw(MAX_RESULTS)),
    poll(Svc::Ecs,              "ListServices",                   10, 1.0, P::EcsCluster),
    poll(Svc::Ecs,              "DescribeServices",               10, 1.2, P::EcsServices),
    poll(Svc::Ecs,              "ListTasks",                      12, 1.0, P::EcsCluster),
    poll(Svc::Ecs,              "DescribeTasks",                  12, 1.4, P::EcsTasks),
    poll(Svc::Ecs,              "ListContainerInstances",          5, 0.8, P::EcsCluster),
    poll(Svc::Ecs,              "DescribeContainerInstances",      5, 0.8, P::EcsContainerInstances),
    poll(Svc::Ecs,              "DescribeTaskDefinition",          8, 0.8, P::TaskDef),
    poll(Svc::AppAutoScaling,   "DescribeScalableTargets",         5, 0.8, P::Raw(ECS_NAMESPACE)),
    poll(Svc::CloudFormation,   "DescribeStacks",                  6, 0.8, P::Null),
    poll(Svc::Iam,              "ListServerCertificates",          2, 0.5, P::Null),
    poll(Svc::Iam,              "ListRoles",                       2, 0.5, P::Null),
    poll(Svc::SecretsManager,   "ListSecrets",                     2, 0.5, P::Raw(MAX_RESULTS)),
    poll(Svc::ServiceDiscovery, "ListServices",                    2, 0.5, P::Raw(MAX_RESULTS)),
];

/// What became of a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Outcome {
    Ok,
    Throttled,
    Denied,
}

/// Actors other than Spinnaker.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Actor {
    Human,
    Ci,
    Config,
    ServiceAssume,
    CloudTrailKms,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Poll { api: u8, outcome: Outcome },
    Deploy { exec: u16, step: u8 },
    Other { actor: Actor },
    SpinAssume,
}

impl Kind {
    /// The event's identity is Spinnaker's session (what the summary counts as Spinnaker's).
    pub(crate) fn by_spinnaker(self, execs: &[Exec]) -> bool {
        match self {
            Kind::Poll { .. } => true,
            Kind::Deploy { exec, step } => {
                !execs[exec as usize].steps()[step as usize].by_auto_scaling()
            }
            Kind::Other { .. } | Kind::SpinAssume => false,
        }
    }
}

/// One event before rendering: its time, what it is and its own seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ev {
    pub t: i64,
    pub ord: u32,
    pub kind: Kind,
    pub seed: u64,
}

const HUMANS: &[&str] = &[
    "alice@example.com",
    "bob@example.com",
    "carol@example.com",
    "dave@example.com",
];

const SPIN_UA: &str = "aws-sdk-java/1.12.261 Linux/5.10.184-175.749.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.8+7 java/17.0.8 vendor/Eclipse_Adoptium cfg/retry-mode/standard spinnaker";
const MGMT_UA: &str = "aws-sdk-java/1.12.261 Linux/5.10.184-175.749.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.8+7 java/17.0.8 vendor/Eclipse_Adoptium cfg/retry-mode/standard";
const BROWSER_UAS: &[&str] = &[
    "AWS Internal",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
];
const CI_UA_BASE: &str =
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-azure exe/x86_64.ubuntu.22 prompt/off command/";
const CIPHERS: &[(&str, &str)] = &[
    ("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
    ("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
    ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
];

/// Identity of an event.
pub(super) enum Ident<'a> {
    /// An assumed-role session (no simulated session signs in with MFA).
    Assumed {
        account: &'a str,
        role: &'a str,
        role_pid: &'a str,
        session: &'a str,
        key: String,
        created: i64,
        /// The AWS service that calls with the session (service-linked roles).
        invoked_by: Option<&'static str>,
        /// Credentials of a console sign-in.
        console: bool,
    },
    /// An AWS service on its own behalf.
    Service(&'static str),
}

/// Everything of a record but its parameters, response, resources and additional data.
pub(super) struct Head<'a> {
    pub(super) t: i64,
    pub(super) svc: Svc,
    pub(super) name: &'a str,
    pub(super) ident: Ident<'a>,
    pub(super) ip: &'a str,
    pub(super) ua: &'a str,
    /// Spinnaker's pipeline user and execution id, appended to the user agent.
    pub(super) ua_suffix: Option<(&'a str, &'a str)>,
    pub(super) error: Option<(&'static str, String)>,
    pub(super) read_only: bool,
    pub(super) data_event: bool,
    /// The record has `tlsDetails` (calls from outside AWS).
    pub(super) tls: bool,
    pub(super) host_override: Option<String>,
    pub(super) shared_event: bool,
}

/// A service-linked role through which an AWS service calls in the account.
pub(super) struct ServiceLinkedRole {
    pub(super) role: &'static str,
    pub(super) session: &'static str,
    /// The service's host: `invokedBy`, source address and user agent.
    pub(super) service: &'static str,
    /// Seeds the session's access key.
    pub(super) key_tag: u64,
}

/// AWS Config's service-linked role, which describes the resources it records.
const CONFIG_ROLE: ServiceLinkedRole = ServiceLinkedRole {
    role: "AWSServiceRoleForConfig",
    session: "AWSConfig-Describe",
    service: "config.amazonaws.com",
    key_tag: 0xC0F,
};

impl<'a> Head<'a> {
    /// A successful read-only management call from outside AWS; callers override what differs.
    fn new(t: i64, svc: Svc, name: &'a str, ident: Ident<'a>, ip: &'a str, ua: &'a str) -> Self {
        Head {
            t,
            svc,
            name,
            ident,
            ip,
            ua,
            ua_suffix: None,
            error: None,
            read_only: true,
            data_event: false,
            tls: true,
            host_override: None,
            shared_event: false,
        }
    }

    /// Spinnaker's clouddriver, from one of its NAT addresses, with its session in the account.
    pub(super) fn spinnaker(w: &'a World, t: i64, r: &mut Rng, svc: Svc, name: &'a str) -> Self {
        let ident = spinnaker_session(w, t);
        let ip = r.pick(&w.nat_ips);
        Head::new(t, svc, name, ident, ip, SPIN_UA)
    }

    /// An AWS service through its service-linked role in the account, in a session that began at
    /// `created`.
    pub(super) fn service_linked(
        w: &'a World,
        t: i64,
        svc: Svc,
        name: &'a str,
        slr: &ServiceLinkedRole,
        role_pid: &'a str,
        created: i64,
    ) -> Self {
        let ident = Ident::Assumed {
            account: &w.account,
            role: slr.role,
            role_pid,
            session: slr.session,
            key: upper_id("ASIA", hash(&[w.seed, slr.key_tag, created as u64]), 16),
            created,
            invoked_by: Some(slr.service),
            console: false,
        };
        Head {
            tls: false,
            ..Head::new(t, svc, name, ident, slr.service, slr.service)
        }
    }

    /// An AWS service on its own behalf; the record is shared with the account it acts for.
    fn aws_service(t: i64, svc: Svc, name: &'a str, service: &'static str) -> Self {
        Head {
            tls: false,
            shared_event: true,
            ..Head::new(t, svc, name, Ident::Service(service), service, service)
        }
    }
}

/// Spinnaker's session in the managed account (refreshed hourly).
fn spinnaker_session(w: &World, t: i64) -> Ident<'_> {
    let start = w.spin_session_start(t);
    Ident::Assumed {
        account: &w.account,
        role: &w.spin_role,
        role_pid: &w.spin_role_pid,
        session: "Spinnaker",
        key: w.spin_access_key(start),
        created: start,
        invoked_by: None,
        console: false,
    }
}

/// `(errorCode, errorMessage)` of a call the identity `arn` is not allowed to make.
fn denied(arn: &str, svc: Svc, name: &str) -> (&'static str, String) {
    let p = svc.iam_prefix();
    let message = if svc == Svc::Ec2 {
        format!("You are not authorized to perform this operation. User: {arn} is not authorized to perform: {p}:{name} because no identity-based policy allows the {p}:{name} action")
    } else {
        format!("User: {arn} is not authorized to perform: {p}:{name} because no identity-based policy allows the {p}:{name} action")
    };
    (svc.denied_code(), message)
}

/// The `userIdentity` object.
fn user_identity(j: &mut Json, ident: &Ident<'_>) {
    j.obj();
    match ident {
        Ident::Assumed {
            account,
            role,
            role_pid,
            session,
            key,
            created,
            invoked_by,
            console: _,
        } => {
            j.kstr("type", "AssumedRole");
            j.key("principalId");
            j.open_str();
            j.part(role_pid);
            j.part(":");
            j.part(session);
            j.close_str();
            j.key("arn");
            j.open_str();
            j.part("arn:aws:sts::");
            j.part(account);
            j.part(":assumed-role/");
            j.part(role);
            j.part("/");
            j.part(session);
            j.close_str();
            j.kstr("accountId", account);
            j.kstr("accessKeyId", key);
            j.key("sessionContext");
            j.obj();
            j.key("sessionIssuer");
            j.obj();
            j.kstr("type", "Role");
            j.kstr("principalId", role_pid);
            j.key("arn");
            j.open_str();
            j.part("arn:aws:iam::");
            j.part(account);
            j.part(if role.starts_with("AWSServiceRole") {
                ":role/aws-service-role/"
            } else if role.starts_with("AWSReservedSSO") {
                ":role/aws-reserved/sso.amazonaws.com/"
            } else {
                ":role/"
            });
            j.part(role);
            j.close_str();
            j.kstr("accountId", account);
            j.kstr("userName", role);
            j.end_obj();
            j.key("attributes");
            j.obj();
            j.kstr(
                "creationDate",
                std::str::from_utf8(&iso(*created)).unwrap_or_default(),
            );
            j.kstr("mfaAuthenticated", "false");
            j.end_obj();
            j.end_obj();
            if let Some(ib) = invoked_by {
                j.kstr("invokedBy", ib);
            }
        }
        Ident::Service(by) => {
            j.kstr("type", "AWSService");
            j.kstr("invokedBy", by);
        }
    }
    j.end_obj();
}

/// Renders events of one world into a JSON buffer; reuses its scratch buffers.
pub(crate) struct Renderer {
    pub(super) params: Json,
    pub(super) resp: Json,
    resources: Vec<(&'static str, String)>,
    additional: Option<String>,
}

fn uuid(r: &mut Rng, out: &mut Json) {
    const HEXB: &[u8; 16] = b"0123456789abcdef";
    let a = r.next_u64();
    let b = r.next_u64();
    let mut s = [0u8; 36];
    let nib = |i: usize| -> u8 {
        let v = if i < 16 {
            a >> (i * 4)
        } else {
            b >> ((i - 16) * 4)
        };
        (v & 15) as u8
    };
    let mut k = 0;
    for (pos, slot) in s.iter_mut().enumerate() {
        if pos == 8 || pos == 13 || pos == 18 || pos == 23 {
            *slot = b'-';
            continue;
        }
        let mut v = nib(k);
        if pos == 14 {
            v = 4;
        } else if pos == 19 {
            v = 8 | (v & 3);
        }
        *slot = HEXB[v as usize];
        k += 1;
    }
    // SAFETY-free: all ASCII.
    out.str(std::str::from_utf8(&s).unwrap_or_default());
}

/// 26-character ULID (Crockford base32): 10 chars of milliseconds, 16 random.
pub(crate) fn ulid(ms: u64, r: &mut Rng) -> String {
    const B32: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut s = String::with_capacity(26);
    for i in (0..10).rev() {
        s.push(B32[((ms >> (i * 5)) & 31) as usize] as char);
    }
    for _ in 0..16 {
        s.push(B32[r.below(32) as usize] as char);
    }
    s
}

/// `{"cluster":"<arn>","<key>":["<arn>",...]}`: ECS calls on some of a cluster's resources.
fn ecs_cluster_resources<S: AsRef<str>>(
    j: &mut Json,
    cluster: &str,
    key: &str,
    arns: impl IntoIterator<Item = S>,
) {
    j.obj();
    j.kstr("cluster", cluster);
    j.key(key);
    j.strs(arns);
    j.end_obj();
}

impl Renderer {
    pub(crate) fn new() -> Self {
        Renderer {
            params: Json::with_capacity(1024),
            resp: Json::with_capacity(1024),
            resources: Vec::new(),
            additional: None,
        }
    }

    fn reset(&mut self) {
        self.params.clear();
        self.resp.clear();
        self.resources.clear();
        self.additional = None;
    }

    /// Render one event as a JSON object into `out`.
    pub(crate) fn render(&mut self, out: &mut Json, w: &World, execs: &[Exec], ev: &Ev) {
        self.reset();
        let mut r = Rng::new(ev.seed);
        match ev.kind {
            Kind::Poll { api, outcome } => self.poll(out, w, ev.t, &mut r, api, outcome),
            Kind::Deploy { exec, step } => {
                self.deploy(out, w, ev.t, &mut r, &execs[exec as usize], step)
            }
            Kind::Other { actor } => self.other(out, w, ev.t, &mut r, actor),
            Kind::SpinAssume => self.spin_assume(out, w, ev.t, &mut r),
        }
    }

    fn poll(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng, api: u8, outcome: Outcome) {
        let a = &POLL_APIS[api as usize];
        self.write_params(w, r, a.params);
        let error = match outcome {
            Outcome::Ok => None,
            Outcome::Throttled => {
                let (c, m) = a.svc.throttle();
                Some((c, m.to_string()))
            }
            Outcome::Denied => Some(denied(&w.spin_session_arn, a.svc, a.name)),
        };
        let head = Head {
            error,
            ..Head::spinnaker(w, t, r, a.svc, a.name)
        };
        self.emit(out, w, r, head);
    }

    fn write_params(&mut self, w: &World, r: &mut Rng, p: P) {
        let j = &mut self.params;
        let app = r.pick(&w.apps);
        let ecs = r.pick(&w.ecs);
        match p {
            P::Raw(s) => j.raw(s),
            P::Null => {}
            P::Images => {
                j.obj();
                j.key("executableBySet");
                j.raw("{}");
                j.key("imagesSet");
                j.raw("{}");
                j.key("ownersSet");
                j.raw(r#"{"items":[{"owner":"self"}]}"#);
                j.key("filterSet");
                j.raw("{}");
                j.end_obj();
            }
            P::LtVersions => {
                j.obj();
                j.key("DescribeLaunchTemplateVersionsRequest");
                j.obj();
                j.kstr("LaunchTemplateId", &app.lt_id);
                j.key("LaunchTemplateVersion");
                j.obj();
                j.kstr("content", "$Latest");
                j.ku64("tag", 1);
                j.end_obj();
                j.end_obj();
                j.end_obj();
            }
            P::ClassicLb => j.str_obj("loadBalancerName", &app.classic_lb),
            P::ClassicLbTags => {
                j.obj();
                j.key("loadBalancerNames");
                j.strs([&app.classic_lb]);
                j.end_obj();
            }
            P::LbArn => j.str_obj("loadBalancerArn", &app.lb_arn),
            P::ListenerArn => j.str_obj("listenerArn", &app.listener_arn),
            P::TgArn => j.str_obj("targetGroupArn", &app.tg_arn),
            P::EcsCluster => {
                j.obj();
                j.kstr("cluster", &ecs.arn);
                j.ku64("maxResults", 100);
                j.end_obj();
            }
            P::EcsServices => ecs_cluster_resources(j, &ecs.arn, "services", &ecs.services),
            P::EcsTasks => ecs_cluster_resources(j, &ecs.arn, "tasks", &ecs.tasks),
            P::EcsContainerInstances => {
                ecs_cluster_resources(j, &ecs.arn, "containerInstances", &ecs.container_instances)
            }
            P::TaskDef => j.str_obj("taskDefinition", r.pick(&ecs.task_defs).as_str()),
        }
    }

    /// STS AssumeRole's request, with the role as the record's resource.
    fn assume_role_request(&mut self, role_arn: &str, session: &str, duration: Option<u64>) {
        let j = &mut self.params;
        j.obj();
        j.kstr("roleArn", role_arn);
        j.kstr("roleSessionName", session);
        if let Some(seconds) = duration {
            j.ku64("durationSeconds", seconds);
        }
        j.end_obj();
        self.resources
            .push(("AWS::IAM::Role", role_arn.to_string()));
    }

    /// STS AssumeRole's response: the session's credentials and identity.
    fn assume_role_response(
        &mut self,
        access_key: &str,
        token_seed: u64,
        expiration: i64,
        assumed_role_id: &str,
        session_arn: &str,
    ) {
        let rj = &mut self.resp;
        rj.obj();
        rj.key("credentials");
        rj.obj();
        rj.kstr("accessKeyId", access_key);
        rj.kstr(
            "sessionToken",
            &format!("IQoJb3JpZ2luX2Vj{}", upper_id("", token_seed, 120)),
        );
        rj.kstr("expiration", &sts_expiration(expiration));
        rj.end_obj();
        rj.key("assumedRoleUser");
        rj.obj();
        rj.kstr("assumedRoleId", assumed_role_id);
        rj.kstr("arn", session_arn);
        rj.end_obj();
        rj.end_obj();
    }

    /// KMS GenerateDataKey with the account's key, for an object in `context`.
    fn generate_data_key(&mut self, w: &World, context: &[(&str, &str)]) {
        let j = &mut self.params;
        j.obj();
        j.kstr("keyId", &w.kms_key_arn);
        j.key("encryptionContext");
        j.obj();
        for (k, v) in context {
            j.kstr(k, v);
        }
        j.end_obj();
        j.kstr("keySpec", "AES_256");
        j.end_obj();
        self.resources
            .push(("AWS::KMS::Key", w.kms_key_arn.clone()));
    }

    fn spin_assume(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng) {
        // clouddriver (in the managing account) assumes the managed role: recorded in the managed account.
        self.assume_role_request(&w.spin_role_arn, "Spinnaker", Some(3600));
        let token_seed = r.next_u64();
        self.assume_role_response(
            &w.spin_access_key(t),
            token_seed,
            t + 3600,
            &w.spin_principal_id,
            &w.spin_session_arn,
        );
        let created = t - 3600 * 3 - (w.spin_key_offset % 600);
        let ident = Ident::Assumed {
            account: &w.managing_account,
            role: "SpinnakerAuthRole",
            role_pid: &w.managing_role_pid,
            session: &w.managing_instance,
            key: upper_id(
                "ASIA",
                hash(&[w.seed, 0x3A4A70, (created / 21600) as u64]),
                16,
            ),
            created,
            invoked_by: None,
            console: false,
        };
        let ip = r.pick(&w.nat_ips);
        let head = Head::new(t, Svc::Sts, "AssumeRole", ident, ip, MGMT_UA);
        self.emit(out, w, r, head);
    }

    fn other(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng, actor: Actor) {
        match actor {
            Actor::Human => self.human(out, w, t, r),
            Actor::Ci => self.ci(out, w, t, r),
            Actor::Config => self.config(out, w, t, r),
            Actor::ServiceAssume => self.service_assume(out, w, t, r),
            Actor::CloudTrailKms => self.cloudtrail_kms(out, w, t, r),
        }
    }

    fn human(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng) {
        const APIS: &[(Svc, &str, bool, &str)] = &[
            (Svc::Ec2, "DescribeInstances", true, ALL_INSTANCES),
            (
                Svc::Ec2,
                "DescribeSecurityGroups",
                true,
                ALL_SECURITY_GROUPS,
            ),
            (
                Svc::AutoScaling,
                "DescribeAutoScalingGroups",
                true,
                r#"{"maxRecords":50}"#,
            ),
            (
                Svc::Monitoring,
                "DescribeAlarms",
                true,
                r#"{"maxRecords":100,"stateValue":"ALARM"}"#,
            ),
            (
                Svc::Monitoring,
                "GetMetricData",
                true,
                r#"{"startTime":"PT3H","endTime":"P0D","maxDatapoints":100800}"#,
            ),
            (Svc::Elbv2, "DescribeTargetGroups", true, PAGE_SIZE),
            (
                Svc::S3,
                "ListBuckets",
                true,
                r#"{"Host":"s3.amazonaws.com"}"#,
            ),
            (
                Svc::CloudTrail,
                "LookupEvents",
                true,
                r#"{"maxResults":50,"lookupAttributes":[{"attributeKey":"ReadOnly","attributeValue":"false"}]}"#,
            ),
            (Svc::Iam, "GetRole", true, ""),
            (Svc::Ecs, "DescribeServices", true, ""),
            (Svc::AutoScaling, "UpdateAutoScalingGroup", false, ""),
            (Svc::Ec2, "AuthorizeSecurityGroupIngress", false, ""),
        ];
        let n_apis: u64 = if r.chance(0.9) { 10 } else { 12 };
        let i = r.below(n_apis) as usize;
        // IAM is global: its events are recorded in us-east-1 only.
        let i = if APIS[i].0 == Svc::Iam && w.region != "us-east-1" {
            0
        } else {
            i
        };
        let (svc, name, ro, raw) = APIS[i];
        let user_i = r.below(HUMANS.len() as u64) as usize;
        let user = HUMANS[user_i];
        let app = r.pick(&w.apps);
        let j = &mut self.params;
        match name {
            "GetRole" => j.str_obj("roleName", &w.spin_role),
            "DescribeServices" => {
                let e = r.pick(&w.ecs);
                ecs_cluster_resources(j, &e.arn, "services", [r.pick(&e.services)]);
            }
            "UpdateAutoScalingGroup" => {
                j.obj();
                j.kstr("autoScalingGroupName", &app.server_group(app.version));
                j.ku64("desiredCapacity", 2 + r.below(6));
                j.end_obj();
            }
            "AuthorizeSecurityGroupIngress" => {
                j.obj();
                j.kstr("groupId", r.pick(&w.security_groups).as_str());
                j.key("ipPermissions");
                j.raw(r#"{"items":[{"ipProtocol":"tcp","fromPort":443,"toPort":443,"groups":{},"ipRanges":{"items":[{"cidrIp":"10.0.0.0/8"}]},"ipv6Ranges":{},"prefixListIds":{}}]}"#);
                j.end_obj();
            }
            _ => j.raw(raw),
        }
        let ident_arn = format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            w.account, w.sso_role, user
        );
        let error = r.chance(0.03).then(|| denied(&ident_arn, svc, name));
        if !ro && error.is_none() {
            self.resp.raw(r#"{"_return":true}"#);
        }
        // Each person's SSO session lasts eight hours.
        let off = (hash(&[w.seed, 0x55D0, user_i as u64]) % 28_800) as i64;
        let created = (t - off).div_euclid(28_800) * 28_800 + off;
        let ident = Ident::Assumed {
            account: &w.account,
            role: &w.sso_role,
            role_pid: &w.sso_role_pid,
            session: user,
            key: upper_id(
                "ASIA",
                hash(&[w.seed, 0x55D1, user_i as u64, created as u64]),
                16,
            ),
            created,
            invoked_by: None,
            console: true,
        };
        let ip = &w.office_ips[user_i % w.office_ips.len()];
        let ua = BROWSER_UAS[(hash(&[w.seed, user_i as u64]) % BROWSER_UAS.len() as u64) as usize];
        let head = Head {
            error,
            read_only: ro,
            host_override: (svc == Svc::S3).then(|| "s3.amazonaws.com".to_string()),
            ..Head::new(t, svc, name, ident, ip, ua)
        };
        self.emit(out, w, r, head);
    }

    fn ci(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng) {
        let k = r.below(100);
        let bucket = r.pick(&w.buckets).clone();
        let (svc, name, ro, cmd) = match k {
            0..=34 => (Svc::S3, "PutObject", false, "s3.cp"),
            35..=59 => (Svc::S3, "GetObject", true, "s3.cp"),
            60..=69 => (
                Svc::Sts,
                "GetCallerIdentity",
                true,
                "sts.get-caller-identity",
            ),
            70..=79 => (
                Svc::Ecr,
                "GetAuthorizationToken",
                true,
                "ecr.get-login-password",
            ),
            80..=89 => (Svc::Kms, "GenerateDataKey", true, "s3.cp"),
            _ => (
                Svc::CloudFormation,
                "DescribeStacks",
                true,
                "cloudformation.describe-stacks",
            ),
        };
        let mut host = None;
        match name {
            "PutObject" | "GetObject" => {
                let key = format!(
                    "builds/{}/{}/artifact-{}.tar.gz",
                    r.pick(super::world::APP_NAMES),
                    1000 + r.below(9000),
                    hex_id(r.next_u64(), 8)
                );
                let j = &mut self.params;
                j.obj();
                j.kstr("bucketName", &bucket);
                let h = format!("{bucket}.s3.{}.amazonaws.com", w.region);
                j.kstr("Host", &h);
                j.kstr("key", &key);
                j.end_obj();
                host = Some(h);
                if name == "PutObject" {
                    self.resp
                        .raw(r#"{"x-amz-server-side-encryption":"aws:kms"}"#);
                }
                let bytes = 10_000 + r.below(50_000_000);
                self.additional = Some(format!(
                    r#"{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":{},"AuthenticationMethod":"AuthHeader","x-amz-id-2":"{}","bytesTransferredOut":{}}}"#,
                    if name == "PutObject" { bytes } else { 0 },
                    upper_id("", r.next_u64(), 40),
                    if name == "GetObject" { bytes } else { 0 }
                ));
                self.resources
                    .push(("AWS::S3::Object", format!("arn:aws:s3:::{bucket}/{key}")));
                self.resources
                    .push(("AWS::S3::Bucket", format!("arn:aws:s3:::{bucket}")));
            }
            "GenerateDataKey" => {
                self.generate_data_key(w, &[("aws:s3:arn", &format!("arn:aws:s3:::{bucket}"))]);
            }
            "DescribeStacks" => {
                let stack = format!("{}-infra", r.pick(super::world::APP_NAMES));
                self.params.str_obj("stackName", &stack);
            }
            _ => {}
        }
        let session = format!(
            "GitHubActions-{}",
            8_000_000_000 + (t / 600) as u64 % 1_000_000
        );
        let arn = format!(
            "arn:aws:sts::{}:assumed-role/github-actions-deploy/{}",
            w.account, session
        );
        let error = r.chance(0.02).then(|| {
            if svc == Svc::S3 {
                (svc.denied_code(), "Access Denied".to_string())
            } else {
                denied(&arn, svc, name)
            }
        });
        // A workflow run's session lasts ten minutes.
        let created = t - (t % 600);
        let ua = format!("{CI_UA_BASE}{cmd}");
        let ident = Ident::Assumed {
            account: &w.account,
            role: "github-actions-deploy",
            role_pid: &w.ci_role_pid,
            session: &session,
            key: upper_id("ASIA", hash(&[w.seed, 0xC1C1, created as u64]), 16),
            created,
            invoked_by: None,
            console: false,
        };
        let ip = &w.ci_ips[((t / 600) as usize) % w.ci_ips.len()];
        let head = Head {
            error,
            read_only: ro,
            data_event: svc == Svc::S3,
            host_override: host,
            ..Head::new(t, svc, name, ident, ip, &ua)
        };
        self.emit(out, w, r, head);
    }

    fn config(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng) {
        const APIS: &[(Svc, &str, &str)] = &[
            (Svc::Ec2, "DescribeInstances", ALL_INSTANCES),
            (Svc::Ec2, "DescribeSecurityGroups", ALL_SECURITY_GROUPS),
            (
                Svc::Ec2,
                "DescribeNetworkInterfaces",
                r#"{"networkInterfaceIdSet":{},"filterSet":{}}"#,
            ),
            (Svc::AutoScaling, "DescribeAutoScalingGroups", MAX_RECORDS),
            (Svc::Elbv2, "DescribeLoadBalancers", "null"),
            (Svc::Kms, "DescribeKey", ""),
        ];
        let (svc, name, raw) = *r.pick(APIS);
        if name == "DescribeKey" {
            self.params.str_obj("keyId", &w.kms_key_arn);
            self.resources
                .push(("AWS::KMS::Key", w.kms_key_arn.clone()));
        } else if raw != "null" {
            self.params.raw(raw);
        }
        // Config's hourly session starts five minutes past the hour.
        let start = (t - 300).div_euclid(3600) * 3600 + 300;
        let head = Head::service_linked(w, t, svc, name, &CONFIG_ROLE, &w.config_slr_pid, start);
        self.emit(out, w, r, head);
    }

    fn service_assume(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng) {
        let (service, role, session) = match r.below(3) {
            0 => (
                "ec2.amazonaws.com",
                "BaseIAMRole",
                format!("i-{}", hex_id(r.below(64), 17)),
            ),
            1 => (
                "ecs-tasks.amazonaws.com",
                "ecsTaskExecutionRole",
                hex_id(r.next_u64(), 32),
            ),
            _ => (
                "lambda.amazonaws.com",
                "log-shipper-lambda-role",
                "log-shipper".to_string(),
            ),
        };
        let role_arn = format!("arn:aws:iam::{}:role/{role}", w.account);
        self.assume_role_request(&role_arn, &session, None);
        let role_pid = upper_id("AROA", hash(&[w.seed, 0xB0B, role.len() as u64]), 17);
        let access_key = upper_id("ASIA", r.next_u64(), 16);
        let token_seed = r.next_u64();
        self.assume_role_response(
            &access_key,
            token_seed,
            t + 21_600,
            &format!("{role_pid}:{session}"),
            &format!("arn:aws:sts::{}:assumed-role/{role}/{session}", w.account),
        );
        let head = Head::aws_service(t, Svc::Sts, "AssumeRole", service);
        self.emit(out, w, r, head);
    }

    fn cloudtrail_kms(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng) {
        let trail = format!(
            "arn:aws:cloudtrail:{}:{}:trail/management-events",
            w.region, w.managing_account
        );
        let folder = format!("arn:aws:s3:::{}/AWSLogs/{}/", w.trail_bucket, w.account);
        self.generate_data_key(
            w,
            &[("aws:cloudtrail:arn", &trail), ("aws:s3:arn", &folder)],
        );
        let head = Head::aws_service(t, Svc::Kms, "GenerateDataKey", "cloudtrail.amazonaws.com");
        self.emit(out, w, r, head);
    }

    /// Write the record; params/resp/resources/additional come from the scratch buffers.
    pub(super) fn emit(&mut self, j: &mut Json, w: &World, r: &mut Rng, h: Head<'_>) {
        let data_event = h.data_event;
        let global = h.svc == Svc::Iam;
        let region: &str = if global { "us-east-1" } else { &w.region };
        j.obj();
        j.kstr("eventVersion", if data_event { "1.10" } else { "1.09" });
        j.key("userIdentity");
        user_identity(j, &h.ident);
        j.kstr(
            "eventTime",
            std::str::from_utf8(&iso(h.t)).unwrap_or_default(),
        );
        j.kstr("eventSource", h.svc.source());
        j.kstr("eventName", h.name);
        j.kstr("awsRegion", region);
        j.kstr("sourceIPAddress", h.ip);
        j.key("userAgent");
        j.open_str();
        j.part(h.ua);
        if let Some((user, id)) = h.ua_suffix {
            j.part(" spinnaker-user/");
            j.part(user);
            j.part(" spinnaker-executionId/");
            j.part(id);
        }
        j.close_str();
        if let Some((code, msg)) = &h.error {
            j.kstr("errorCode", code);
            j.kstr("errorMessage", msg);
        }
        j.key("requestParameters");
        if self.params.buf.is_empty() {
            j.null();
        } else {
            j.raw(std::str::from_utf8(&self.params.buf).unwrap_or("null"));
        }
        j.key("responseElements");
        if self.resp.buf.is_empty() || h.error.is_some() {
            j.null();
        } else {
            j.raw(std::str::from_utf8(&self.resp.buf).unwrap_or("null"));
        }
        if let Some(a) = &self.additional {
            j.key("additionalEventData");
            j.raw(a);
        }
        j.key("requestID");
        if h.svc == Svc::S3 {
            let s = upper_id("", r.next_u64(), 16);
            j.str(&s);
        } else {
            uuid(r, j);
        }
        j.key("eventID");
        uuid(r, j);
        j.kbool("readOnly", h.read_only);
        if !self.resources.is_empty() {
            j.key("resources");
            j.arr();
            for (ty, arn) in &self.resources {
                j.obj();
                if *ty != "AWS::S3::Object" {
                    j.kstr("accountId", &w.account);
                }
                j.kstr("type", ty);
                j.kstr("ARN", arn);
                j.end_obj();
            }
            j.end_arr();
        }
        j.kstr("eventType", "AwsApiCall");
        if let Some(v) = h.svc.api_version() {
            j.kstr("apiVersion", v);
        }
        j.kbool("managementEvent", !data_event);
        j.kstr("recipientAccountId", &w.account);
        if h.shared_event {
            j.key("sharedEventID");
            uuid(r, j);
        }
        j.kstr(
            "eventCategory",
            if data_event { "Data" } else { "Management" },
        );
        if h.tls {
            let (v, c) = CIPHERS[if h.ua == SPIN_UA {
                0
            } else {
                r.below(3) as usize
            }];
            j.key("tlsDetails");
            j.obj();
            j.kstr("tlsVersion", v);
            j.kstr("cipherSuite", c);
            j.key("clientProvidedHostHeader");
            match &h.host_override {
                Some(host) => j.str(host),
                None => {
                    j.open_str();
                    j.part(h.svc.host_prefix());
                    if !global {
                        j.part(".");
                        j.part(region);
                    }
                    j.part(".amazonaws.com");
                    j.close_str();
                }
            }
            j.end_obj();
        }
        if let Ident::Assumed { console: true, .. } = h.ident {
            j.kstr("sessionCredentialFromConsole", "true");
        }
        j.end_obj();
    }
}
