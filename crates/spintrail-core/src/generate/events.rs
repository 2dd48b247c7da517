//! Event kinds, the API catalogue and the JSON rendering of one CloudTrail record.

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
    pub(crate) fn throttle(self) -> (&'static str, &'static str) {
        match self {
            Svc::Ec2 => ("Client.RequestLimitExceeded", "Request limit exceeded."),
            Svc::AutoScaling
            | Svc::Monitoring
            | Svc::Elb
            | Svc::Elbv2
            | Svc::CloudFormation
            | Svc::Iam
            | Svc::Sts => ("Throttling", "Rate exceeded"),
            Svc::S3 => ("SlowDown", "Please reduce your request rate."),
            _ => ("ThrottlingException", "Rate exceeded"),
        }
    }

    fn denied_code(self) -> &'static str {
        match self {
            Svc::Ec2 => "Client.UnauthorizedOperation",
            Svc::AutoScaling
            | Svc::Monitoring
            | Svc::Elb
            | Svc::Elbv2
            | Svc::CloudFormation
            | Svc::Iam
            | Svc::Sts
            | Svc::S3 => "AccessDenied",
            _ => "AccessDeniedException",
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

pub(crate) static POLL_APIS: &[PollApi] = &[
    poll(
        Svc::Ec2,
        "DescribeInstances",
        60,
        1.2,
        P::Raw(r#"{"instancesSet":{},"filterSet":{}}"#),
    ),
    poll(Svc::Ec2, "DescribeImages", 25, 1.0, P::Images),
    poll(
        Svc::Ec2,
        "DescribeSecurityGroups",
        25,
        0.8,
        P::Raw(r#"{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}"#),
    ),
    poll(
        Svc::Ec2,
        "DescribeSubnets",
        25,
        0.6,
        P::Raw(r#"{"subnetSet":{},"filterSet":{}}"#),
    ),
    poll(
        Svc::Ec2,
        "DescribeVpcs",
        10,
        0.5,
        P::Raw(r#"{"vpcSet":{},"filterSet":{}}"#),
    ),
    poll(
        Svc::Ec2,
        "DescribeLaunchTemplates",
        18,
        0.8,
        P::Raw(r#"{"DescribeLaunchTemplatesRequest":{"MaxResults":1000}}"#),
    ),
    poll(
        Svc::Ec2,
        "DescribeLaunchTemplateVersions",
        18,
        0.8,
        P::LtVersions,
    ),
    poll(
        Svc::Ec2,
        "DescribeInstanceTypes",
        4,
        0.5,
        P::Raw(r#"{"DescribeInstanceTypesRequest":{"MaxResults":100}}"#),
    ),
    poll(
        Svc::Ec2,
        "DescribeKeyPairs",
        5,
        0.5,
        P::Raw(r#"{"keySet":{},"filterSet":{}}"#),
    ),
    poll(
        Svc::Ec2,
        "DescribeAddresses",
        5,
        0.5,
        P::Raw(r#"{"publicIpsSet":{},"allocationIdsSet":{},"filterSet":{}}"#),
    ),
    poll(
        Svc::Ec2,
        "DescribeReservedInstances",
        3,
        0.5,
        P::Raw(r#"{"reservedInstancesSet":{},"filterSet":{}}"#),
    ),
    poll(
        Svc::AutoScaling,
        "DescribeAutoScalingGroups",
        50,
        1.3,
        P::Raw(r#"{"maxRecords":100}"#),
    ),
    poll(
        Svc::AutoScaling,
        "DescribePolicies",
        22,
        1.6,
        P::Raw(r#"{"maxRecords":100}"#),
    ),
    poll(
        Svc::AutoScaling,
        "DescribeScheduledActions",
        12,
        1.0,
        P::Raw(r#"{"maxRecords":100}"#),
    ),
    poll(
        Svc::AutoScaling,
        "DescribeLaunchConfigurations",
        10,
        0.8,
        P::Raw(r#"{"maxRecords":100}"#),
    ),
    poll(
        Svc::Monitoring,
        "DescribeAlarms",
        22,
        1.4,
        P::Raw(r#"{"maxRecords":100}"#),
    ),
    poll(
        Svc::Elb,
        "DescribeLoadBalancers",
        10,
        1.5,
        P::Raw(r#"{"pageSize":400}"#),
    ),
    poll(
        Svc::Elb,
        "DescribeLoadBalancerAttributes",
        8,
        1.0,
        P::ClassicLb,
    ),
    poll(Svc::Elb, "DescribeTags", 6, 1.0, P::ClassicLbTags),
    poll(Svc::Elb, "DescribeInstanceHealth", 10, 1.2, P::ClassicLb),
    poll(
        Svc::Elbv2,
        "DescribeLoadBalancers",
        16,
        1.8,
        P::Raw(r#"{"pageSize":400}"#),
    ),
    poll(Svc::Elbv2, "DescribeListeners", 12, 1.5, P::LbArn),
    poll(Svc::Elbv2, "DescribeRules", 10, 1.5, P::ListenerArn),
    poll(
        Svc::Elbv2,
        "DescribeTargetGroups",
        16,
        2.0,
        P::Raw(r#"{"pageSize":400}"#),
    ),
    poll(
        Svc::Elbv2,
        "DescribeTargetGroupAttributes",
        12,
        1.5,
        P::TgArn,
    ),
    poll(
        Svc::Elbv2,
        "DescribeLoadBalancerAttributes",
        8,
        1.2,
        P::LbArn,
    ),
    poll(Svc::Elbv2, "DescribeTargetHealth", 45, 2.5, P::TgArn),
    poll(
        Svc::Ecs,
        "ListClusters",
        6,
        0.8,
        P::Raw(r#"{"maxResults":100}"#),
    ),
    poll(Svc::Ecs, "ListServices", 10, 1.0, P::EcsCluster),
    poll(Svc::Ecs, "DescribeServices", 10, 1.2, P::EcsServices),
    poll(Svc::Ecs, "ListTasks", 12, 1.0, P::EcsCluster),
    poll(Svc::Ecs, "DescribeTasks", 12, 1.4, P::EcsTasks),
    poll(Svc::Ecs, "ListContainerInstances", 5, 0.8, P::EcsCluster),
    poll(
        Svc::Ecs,
        "DescribeContainerInstances",
        5,
        0.8,
        P::EcsContainerInstances,
    ),
    poll(Svc::Ecs, "DescribeTaskDefinition", 8, 0.8, P::TaskDef),
    poll(
        Svc::AppAutoScaling,
        "DescribeScalableTargets",
        5,
        0.8,
        P::Raw(r#"{"serviceNamespace":"ecs"}"#),
    ),
    poll(Svc::CloudFormation, "DescribeStacks", 6, 0.8, P::Null),
    poll(Svc::Iam, "ListServerCertificates", 2, 0.5, P::Null),
    poll(Svc::Iam, "ListRoles", 2, 0.5, P::Null),
    poll(
        Svc::SecretsManager,
        "ListSecrets",
        2,
        0.5,
        P::Raw(r#"{"maxResults":100}"#),
    ),
    poll(
        Svc::ServiceDiscovery,
        "ListServices",
        2,
        0.5,
        P::Raw(r#"{"maxResults":100}"#),
    ),
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

/// One event before rendering: its time, what it is and its own seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ev {
    pub t: i64,
    pub ord: u32,
    pub kind: Kind,
    pub seed: u64,
}

/// A pipeline execution's deploy: a red/black (blue/green) server-group replacement.
pub(crate) struct Exec {
    pub app: usize,
    pub id: String,
    pub user: &'static str,
    pub rollback: bool,
    pub fail: bool,
    pub new_lt: String,
}

/// Steps of a deploy; `None` service = an AWS-side consequence (Auto Scaling launching/terminating).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Step {
    DescribeImages,
    DescribeSecurityGroups,
    DescribeSubnets,
    CreateLaunchTemplate,
    CreateAutoScalingGroup,
    CreateOrUpdateTags,
    AsgRunInstances,
    DescribeAutoScalingGroups,
    DescribeTargetHealth,
    SuspendProcesses,
    DeregisterTargets,
    RegisterTargets,
    ResumeProcesses,
    ResizeOld,
    AsgTerminateInstances,
    DeleteAutoScalingGroup,
    DeleteLaunchTemplate,
    CreateLaunchTemplateVersion,
}

pub(crate) const DEPLOY_STEPS: &[Step] = &[
    Step::DescribeImages,
    Step::DescribeSecurityGroups,
    Step::DescribeSubnets,
    Step::CreateLaunchTemplate,
    Step::CreateAutoScalingGroup,
    Step::CreateOrUpdateTags,
    Step::AsgRunInstances,
    Step::DescribeAutoScalingGroups,
    Step::DescribeTargetHealth,
    Step::DescribeAutoScalingGroups,
    Step::DescribeTargetHealth,
    Step::SuspendProcesses,
    Step::DeregisterTargets,
    Step::ResizeOld,
    Step::AsgTerminateInstances,
    Step::DeleteAutoScalingGroup,
    Step::DeleteLaunchTemplate,
];

pub(crate) const ROLLBACK_STEPS: &[Step] = &[
    Step::DescribeAutoScalingGroups,
    Step::ResumeProcesses,
    Step::RegisterTargets,
    Step::DescribeTargetHealth,
    Step::CreateLaunchTemplateVersion,
    Step::SuspendProcesses,
    Step::DeregisterTargets,
    Step::DescribeTargetHealth,
];

pub(crate) const PIPELINE_USERS: &[&str] = &[
    "alice@example.com",
    "bob@example.com",
    "carol@example.com",
    "deploy-bot",
    "anonymous",
];

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
enum Ident<'a> {
    /// AssumedRole; (account, role, role principal id, session name, access key, creation, mfa, invokedBy)
    Assumed {
        account: &'a str,
        role: &'a str,
        role_pid: &'a str,
        session: &'a str,
        key: String,
        created: i64,
        mfa: bool,
        invoked_by: Option<&'static str>,
        console: bool,
    },
    Service(&'static str),
}

struct Head<'a> {
    t: i64,
    svc: Svc,
    name: &'a str,
    ident: Ident<'a>,
    ip: &'a str,
    ua: &'a str,
    ua_suffix: Option<(&'a str, &'a str)>,
    error: Option<(&'static str, String)>,
    read_only: bool,
    data_event: bool,
    tls: bool,
    host_override: Option<String>,
    shared_event: bool,
}

/// Renders events of one world into a JSON buffer; reuses its scratch buffers.
pub(crate) struct Renderer {
    params: Json,
    resp: Json,
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

    fn spin_ident<'a>(&self, w: &'a World, t: i64) -> Ident<'a> {
        let start = w.spin_session_start(t);
        Ident::Assumed {
            account: &w.account,
            role: &w.spin_role,
            role_pid: &w.spin_role_pid,
            session: "Spinnaker",
            key: w.spin_access_key(start),
            created: start,
            mfa: false,
            invoked_by: None,
            console: false,
        }
    }

    fn denied_message(arn: &str, svc: Svc, name: &str, resource: Option<&str>) -> String {
        let p = svc.iam_prefix();
        let on = resource
            .map(|r| format!(" on resource: {r}"))
            .unwrap_or_default();
        if svc == Svc::Ec2 {
            format!("You are not authorized to perform this operation. User: {arn} is not authorized to perform: {p}:{name}{on} because no identity-based policy allows the {p}:{name} action")
        } else {
            format!("User: {arn} is not authorized to perform: {p}:{name}{on} because no identity-based policy allows the {p}:{name} action")
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
            Outcome::Denied => Some((
                a.svc.denied_code(),
                Self::denied_message(&w.spin_session_arn, a.svc, a.name, None),
            )),
        };
        let head = Head {
            t,
            svc: a.svc,
            name: a.name,
            ident: self.spin_ident(w, t),
            ip: r.pick(w.nat_ips.as_slice()).as_str(),
            ua: SPIN_UA,
            ua_suffix: None,
            error,
            read_only: true,
            data_event: false,
            tls: true,
            host_override: None,
            shared_event: false,
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
            P::ClassicLb => {
                j.obj();
                j.kstr("loadBalancerName", &app.classic_lb);
                j.end_obj();
            }
            P::ClassicLbTags => {
                j.obj();
                j.key("loadBalancerNames");
                j.arr();
                j.str(&app.classic_lb);
                j.end_arr();
                j.end_obj();
            }
            P::LbArn => {
                j.obj();
                j.kstr("loadBalancerArn", &app.lb_arn);
                j.end_obj();
            }
            P::ListenerArn => {
                j.obj();
                j.kstr("listenerArn", &app.listener_arn);
                j.end_obj();
            }
            P::TgArn => {
                j.obj();
                j.kstr("targetGroupArn", &app.tg_arn);
                j.end_obj();
            }
            P::EcsCluster => {
                j.obj();
                j.kstr("cluster", &ecs.arn);
                j.ku64("maxResults", 100);
                j.end_obj();
            }
            P::EcsServices => {
                j.obj();
                j.kstr("cluster", &ecs.arn);
                j.key("services");
                j.arr();
                for s in &ecs.services {
                    j.str(s);
                }
                j.end_arr();
                j.end_obj();
            }
            P::EcsTasks => {
                j.obj();
                j.kstr("cluster", &ecs.arn);
                j.key("tasks");
                j.arr();
                for s in &ecs.tasks {
                    j.str(s);
                }
                j.end_arr();
                j.end_obj();
            }
            P::EcsContainerInstances => {
                j.obj();
                j.kstr("cluster", &ecs.arn);
                j.key("containerInstances");
                j.arr();
                for s in &ecs.container_instances {
                    j.str(s);
                }
                j.end_arr();
                j.end_obj();
            }
            P::TaskDef => {
                j.obj();
                j.kstr("taskDefinition", r.pick(ecs.task_defs.as_slice()).as_str());
                j.end_obj();
            }
        }
    }

    fn deploy(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng, ex: &Exec, step: u8) {
        let steps = if ex.rollback {
            ROLLBACK_STEPS
        } else {
            DEPLOY_STEPS
        };
        let step = steps[step as usize];
        let app = &w.apps[ex.app];
        let new_v = app.version + 1;
        let new_asg = format!("{}-v{:03}", app.cluster, new_v);
        let old_asg = format!("{}-v{:03}", app.cluster, app.version);
        let older_asg = format!("{}-v{:03}", app.cluster, app.version.saturating_sub(1));
        let mut read_only = false;
        let mut svc = Svc::AutoScaling;
        let mut error = None;
        let j = &mut self.params;
        let mut aws_side = false;
        let name: &str = match step {
            Step::DescribeImages => {
                svc = Svc::Ec2;
                read_only = true;
                j.obj();
                j.key("executableBySet");
                j.raw("{}");
                j.key("imagesSet");
                j.obj();
                j.key("items");
                j.arr();
                j.obj();
                j.kstr("imageId", &app.ami);
                j.end_obj();
                j.end_arr();
                j.end_obj();
                j.key("ownersSet");
                j.raw("{}");
                j.key("filterSet");
                j.raw("{}");
                j.end_obj();
                "DescribeImages"
            }
            Step::DescribeSecurityGroups => {
                svc = Svc::Ec2;
                read_only = true;
                j.obj();
                j.key("securityGroupSet");
                j.raw("{}");
                j.key("securityGroupIdSet");
                j.obj();
                j.key("items");
                j.arr();
                for sg in &w.security_groups[..2] {
                    j.obj();
                    j.kstr("groupId", sg);
                    j.end_obj();
                }
                j.end_arr();
                j.end_obj();
                j.key("filterSet");
                j.raw("{}");
                j.end_obj();
                "DescribeSecurityGroups"
            }
            Step::DescribeSubnets => {
                svc = Svc::Ec2;
                read_only = true;
                j.raw(r#"{"subnetSet":{},"filterSet":{}}"#);
                "DescribeSubnets"
            }
            Step::CreateLaunchTemplate => {
                svc = Svc::Ec2;
                j.obj();
                j.key("CreateLaunchTemplateRequest");
                j.obj();
                j.kstr("LaunchTemplateName", &format!("{new_asg}-{}", t * 1000));
                j.key("LaunchTemplateData");
                j.obj();
                j.kstr("ImageId", &app.ami);
                j.kstr("InstanceType", app.instance_type);
                j.key("IamInstanceProfile");
                j.obj();
                j.kstr("Name", "BaseInstanceProfile");
                j.end_obj();
                j.key("SecurityGroupId");
                j.arr();
                j.obj();
                j.kstr("content", &w.security_groups[0]);
                j.ku64("tag", 1);
                j.end_obj();
                j.end_arr();
                j.key("UserData");
                j.str("<sensitiveDataRemoved>");
                j.end_obj();
                j.end_obj();
                j.end_obj();
                let rj = &mut self.resp;
                rj.obj();
                rj.key("CreateLaunchTemplateResponse");
                rj.obj();
                rj.kstr("xmlns", "http://ec2.amazonaws.com/doc/2016-11-15/");
                rj.kstr("requestId", &hex_id(r.next_u64(), 8));
                rj.key("launchTemplate");
                rj.obj();
                rj.kstr("launchTemplateId", &ex.new_lt);
                rj.kstr("launchTemplateName", &format!("{new_asg}-{}", t * 1000));
                rj.ku64("defaultVersionNumber", 1);
                rj.ku64("latestVersionNumber", 1);
                rj.kstr(
                    "createTime",
                    std::str::from_utf8(&iso(t)).unwrap_or_default(),
                );
                rj.kstr("createdBy", &w.spin_session_arn);
                rj.end_obj();
                rj.end_obj();
                rj.end_obj();
                "CreateLaunchTemplate"
            }
            Step::CreateLaunchTemplateVersion => {
                svc = Svc::Ec2;
                j.obj();
                j.key("CreateLaunchTemplateVersionRequest");
                j.obj();
                j.kstr("LaunchTemplateId", &app.lt_id);
                j.kstr("SourceVersion", "$Latest");
                j.key("LaunchTemplateData");
                j.obj();
                j.kstr("ImageId", &app.ami);
                j.kstr("InstanceType", app.instance_type);
                j.end_obj();
                j.end_obj();
                j.end_obj();
                "CreateLaunchTemplateVersion"
            }
            Step::CreateAutoScalingGroup => "CreateAutoScalingGroup",
            Step::CreateOrUpdateTags => {
                j.obj();
                j.key("tags");
                j.arr();
                for (k, v) in [
                    (
                        "spinnaker:application",
                        app.cluster.split('-').next().unwrap_or(""),
                    ),
                    (
                        "spinnaker:stack",
                        app.cluster.rsplit('-').next().unwrap_or(""),
                    ),
                ] {
                    j.obj();
                    j.kstr("resourceId", &new_asg);
                    j.kstr("resourceType", "auto-scaling-group");
                    j.kstr("key", k);
                    j.kstr("value", v);
                    j.kbool("propagateAtLaunch", true);
                    j.end_obj();
                }
                j.end_arr();
                j.end_obj();
                "CreateOrUpdateTags"
            }
            Step::AsgRunInstances | Step::AsgTerminateInstances => {
                aws_side = true;
                svc = Svc::Ec2;
                let run = step == Step::AsgRunInstances;
                j.obj();
                if run {
                    j.key("instancesSet");
                    j.obj();
                    j.key("items");
                    j.arr();
                    j.obj();
                    j.kstr("imageId", &app.ami);
                    j.ku64("minCount", 1);
                    j.ku64("maxCount", 1);
                    j.end_obj();
                    j.end_arr();
                    j.end_obj();
                    j.kstr("instanceType", app.instance_type);
                    j.key("launchTemplate");
                    j.obj();
                    j.kstr("launchTemplateId", &ex.new_lt);
                    j.kstr("version", "1");
                    j.end_obj();
                    j.kstr("subnetId", r.pick(w.subnets.as_slice()).as_str());
                    j.kbool("disableApiTermination", false);
                    j.kstr(
                        "clientToken",
                        &format!("fleet-{}", hex_id(r.next_u64(), 32)),
                    );
                } else {
                    j.key("instancesSet");
                    j.obj();
                    j.key("items");
                    j.arr();
                    for i in &app.instances[..2] {
                        j.obj();
                        j.kstr("instanceId", i);
                        j.end_obj();
                    }
                    j.end_arr();
                    j.end_obj();
                }
                j.end_obj();
                if run {
                    "RunInstances"
                } else {
                    "TerminateInstances"
                }
            }
            Step::DescribeAutoScalingGroups => {
                read_only = true;
                j.obj();
                j.key("autoScalingGroupNames");
                j.arr();
                j.str(&new_asg);
                j.str(&old_asg);
                j.end_arr();
                j.end_obj();
                "DescribeAutoScalingGroups"
            }
            Step::DescribeTargetHealth => {
                svc = Svc::Elbv2;
                read_only = true;
                j.obj();
                j.kstr("targetGroupArn", &app.tg_arn);
                j.end_obj();
                "DescribeTargetHealth"
            }
            Step::SuspendProcesses | Step::ResumeProcesses => {
                j.obj();
                j.kstr(
                    "autoScalingGroupName",
                    if ex.rollback { &new_asg } else { &old_asg },
                );
                j.key("scalingProcesses");
                j.arr();
                for p in [
                    "Launch",
                    "Terminate",
                    "AddToLoadBalancer",
                    "AlarmNotification",
                ] {
                    j.str(p);
                }
                j.end_arr();
                j.end_obj();
                if step == Step::SuspendProcesses {
                    "SuspendProcesses"
                } else {
                    "ResumeProcesses"
                }
            }
            Step::DeregisterTargets | Step::RegisterTargets => {
                svc = Svc::Elbv2;
                j.obj();
                j.kstr("targetGroupArn", &app.tg_arn);
                j.key("targets");
                j.arr();
                for i in &app.instances {
                    j.obj();
                    j.kstr("id", i);
                    j.end_obj();
                }
                j.end_arr();
                j.end_obj();
                if step == Step::DeregisterTargets {
                    "DeregisterTargets"
                } else {
                    "RegisterTargets"
                }
            }
            Step::ResizeOld => {
                j.obj();
                j.kstr("autoScalingGroupName", &older_asg);
                j.ku64("minSize", 0);
                j.ku64("maxSize", 0);
                j.ku64("desiredCapacity", 0);
                j.end_obj();
                "UpdateAutoScalingGroup"
            }
            Step::DeleteAutoScalingGroup => {
                j.obj();
                j.kstr("autoScalingGroupName", &older_asg);
                j.kbool("forceDelete", true);
                j.end_obj();
                "DeleteAutoScalingGroup"
            }
            Step::DeleteLaunchTemplate => {
                svc = Svc::Ec2;
                j.obj();
                j.key("DeleteLaunchTemplateRequest");
                j.obj();
                j.kstr("LaunchTemplateId", &app.lt_id);
                j.end_obj();
                j.end_obj();
                "DeleteLaunchTemplate"
            }
        };
        if step == Step::CreateAutoScalingGroup {
            let j = &mut self.params;
            j.obj();
            j.kstr("autoScalingGroupName", &new_asg);
            j.key("launchTemplate");
            j.obj();
            j.kstr("launchTemplateId", &ex.new_lt);
            j.kstr("version", "$Latest");
            j.end_obj();
            let n = 2 + r.below(4);
            j.ku64("minSize", n);
            j.ku64("maxSize", n);
            j.ku64("desiredCapacity", n);
            j.ku64("defaultCooldown", 10);
            j.key("availabilityZones");
            j.arr();
            for z in &w.azs {
                j.str(z);
            }
            j.end_arr();
            j.key("targetGroupARNs");
            j.arr();
            j.str(&app.tg_arn);
            j.end_arr();
            j.kstr("healthCheckType", "ELB");
            j.ku64("healthCheckGracePeriod", 600);
            j.key("vPCZoneIdentifier");
            j.open_str();
            for (i, s) in w.subnets.iter().enumerate() {
                if i > 0 {
                    j.part(",");
                }
                j.part(s);
            }
            j.close_str();
            j.key("terminationPolicies");
            j.raw(r#"["Default"]"#);
            j.kbool("newInstancesProtectedFromScaleIn", false);
            j.end_obj();
            if ex.fail {
                error = Some((
                    "AccessDenied",
                    format!(
                        "You are not authorized to use launch template: {}",
                        ex.new_lt
                    ),
                ));
            }
        }
        if aws_side {
            let start = w.spin_session_start(t) - 17;
            let head = Head {
                t,
                svc,
                name,
                ident: Ident::Assumed {
                    account: &w.account,
                    role: "AWSServiceRoleForAutoScaling",
                    role_pid: &w.asg_slr_pid,
                    session: "AutoScaling",
                    key: upper_id("ASIA", hash(&[w.seed, 0xA5C, start as u64]), 16),
                    created: start,
                    mfa: false,
                    invoked_by: Some("autoscaling.amazonaws.com"),
                    console: false,
                },
                ip: "autoscaling.amazonaws.com",
                ua: "autoscaling.amazonaws.com",
                ua_suffix: None,
                error: None,
                read_only: false,
                data_event: false,
                tls: false,
                host_override: None,
                shared_event: false,
            };
            if name == "RunInstances" {
                let rj = &mut self.resp;
                rj.obj();
                rj.kstr("requestId", &hex_id(r.next_u64(), 8));
                rj.kstr("reservationId", &format!("r-{}", hex_id(r.next_u64(), 17)));
                rj.kstr("ownerId", &w.account);
                rj.kstr("requesterId", "940372691376");
                rj.key("instancesSet");
                rj.obj();
                rj.key("items");
                rj.arr();
                rj.obj();
                rj.kstr("instanceId", &format!("i-{}", hex_id(r.next_u64(), 17)));
                rj.kstr("imageId", &app.ami);
                rj.kstr("instanceType", app.instance_type);
                rj.end_obj();
                rj.end_arr();
                rj.end_obj();
                rj.end_obj();
            }
            self.emit(out, w, r, head);
            return;
        }
        let head = Head {
            t,
            svc,
            name,
            ident: self.spin_ident(w, t),
            ip: r.pick(w.nat_ips.as_slice()).as_str(),
            ua: SPIN_UA,
            ua_suffix: Some((ex.user, &ex.id)),
            error,
            read_only,
            data_event: false,
            tls: true,
            host_override: None,
            shared_event: false,
        };
        self.emit(out, w, r, head);
    }

    fn spin_assume(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng) {
        // clouddriver (in the managing account) assumes the managed role: recorded in the managed account.
        let j = &mut self.params;
        j.obj();
        j.kstr("roleArn", &w.spin_role_arn);
        j.kstr("roleSessionName", "Spinnaker");
        j.ku64("durationSeconds", 3600);
        j.end_obj();
        let rj = &mut self.resp;
        rj.obj();
        rj.key("credentials");
        rj.obj();
        rj.kstr("accessKeyId", &w.spin_access_key(t));
        rj.kstr(
            "sessionToken",
            &format!("IQoJb3JpZ2luX2Vj{}", upper_id("", r.next_u64(), 120)),
        );
        rj.kstr("expiration", &sts_expiration(t + 3600));
        rj.end_obj();
        rj.key("assumedRoleUser");
        rj.obj();
        rj.kstr("assumedRoleId", &w.spin_principal_id);
        rj.kstr("arn", &w.spin_session_arn);
        rj.end_obj();
        rj.end_obj();
        self.resources
            .push(("AWS::IAM::Role", w.spin_role_arn.clone()));
        let created = t - 3600 * 3 - (w.spin_key_offset % 600);
        let head = Head {
            t,
            svc: Svc::Sts,
            name: "AssumeRole",
            ident: Ident::Assumed {
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
                mfa: false,
                invoked_by: None,
                console: false,
            },
            ip: r.pick(w.nat_ips.as_slice()).as_str(),
            ua: MGMT_UA,
            ua_suffix: None,
            error: None,
            read_only: true,
            data_event: false,
            tls: true,
            host_override: None,
            shared_event: false,
        };
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
            (
                Svc::Ec2,
                "DescribeInstances",
                true,
                r#"{"instancesSet":{},"filterSet":{}}"#,
            ),
            (
                Svc::Ec2,
                "DescribeSecurityGroups",
                true,
                r#"{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}"#,
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
            (
                Svc::Elbv2,
                "DescribeTargetGroups",
                true,
                r#"{"pageSize":400}"#,
            ),
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
            "GetRole" => {
                j.obj();
                j.kstr("roleName", &w.spin_role);
                j.end_obj();
            }
            "DescribeServices" => {
                let e = r.pick(&w.ecs);
                j.obj();
                j.kstr("cluster", &e.arn);
                j.key("services");
                j.arr();
                j.str(r.pick(e.services.as_slice()).as_str());
                j.end_arr();
                j.end_obj();
            }
            "UpdateAutoScalingGroup" => {
                j.obj();
                j.key("autoScalingGroupName");
                j.str(&format!("{}-v{:03}", app.cluster, app.version));
                j.ku64("desiredCapacity", 2 + r.below(6));
                j.end_obj();
            }
            "AuthorizeSecurityGroupIngress" => {
                j.obj();
                j.kstr("groupId", r.pick(w.security_groups.as_slice()).as_str());
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
        let error = if r.chance(0.03) {
            Some((
                svc.denied_code(),
                Self::denied_message(&ident_arn, svc, name, None),
            ))
        } else {
            None
        };
        if !ro && error.is_none() {
            self.resp.raw(r#"{"_return":true}"#);
        }
        if name == "GetRole" {
            self.resources.clear();
        }
        let off = (hash(&[w.seed, 0x55D0, user_i as u64]) % 28_800) as i64;
        let created = (t - off).div_euclid(28_800) * 28_800 + off;
        let host = if svc == Svc::S3 {
            Some("s3.amazonaws.com".to_string())
        } else {
            None
        };
        let head = Head {
            t,
            svc,
            name,
            ident: Ident::Assumed {
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
                mfa: false,
                invoked_by: None,
                console: true,
            },
            ip: &w.office_ips[user_i % w.office_ips.len()],
            ua: BROWSER_UAS[(hash(&[w.seed, user_i as u64]) % BROWSER_UAS.len() as u64) as usize],
            ua_suffix: None,
            error,
            read_only: ro,
            data_event: false,
            tls: true,
            host_override: host,
            shared_event: false,
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
        let data = svc == Svc::S3;
        let j = &mut self.params;
        match name {
            "PutObject" | "GetObject" => {
                let key = format!(
                    "builds/{}/{}/artifact-{}.tar.gz",
                    r.pick(super::world::APP_NAMES),
                    1000 + r.below(9000),
                    hex_id(r.next_u64(), 8)
                );
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
                j.obj();
                j.kstr("keyId", &w.kms_key_arn);
                j.key("encryptionContext");
                j.obj();
                j.kstr("aws:s3:arn", &format!("arn:aws:s3:::{bucket}"));
                j.end_obj();
                j.kstr("keySpec", "AES_256");
                j.end_obj();
                self.resources
                    .push(("AWS::KMS::Key", w.kms_key_arn.clone()));
            }
            "DescribeStacks" => {
                j.obj();
                j.kstr(
                    "stackName",
                    &format!("{}-infra", r.pick(super::world::APP_NAMES)),
                );
                j.end_obj();
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
        let error = if r.chance(0.02) {
            Some((
                svc.denied_code(),
                if svc == Svc::S3 {
                    "Access Denied".to_string()
                } else {
                    Self::denied_message(&arn, svc, name, None)
                },
            ))
        } else {
            None
        };
        let created = t - (t % 600);
        let ua = format!("{CI_UA_BASE}{cmd}");
        let head = Head {
            t,
            svc,
            name,
            ident: Ident::Assumed {
                account: &w.account,
                role: "github-actions-deploy",
                role_pid: &w.ci_role_pid,
                session: &session,
                key: upper_id("ASIA", hash(&[w.seed, 0xC1C1, created as u64]), 16),
                created,
                mfa: false,
                invoked_by: None,
                console: false,
            },
            ip: &w.ci_ips[((t / 600) as usize) % w.ci_ips.len()],
            ua: &ua,
            ua_suffix: None,
            error,
            read_only: ro,
            data_event: data,
            tls: true,
            host_override: host,
            shared_event: false,
        };
        self.emit(out, w, r, head);
    }

    fn config(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng) {
        const APIS: &[(Svc, &str, &str)] = &[
            (
                Svc::Ec2,
                "DescribeInstances",
                r#"{"instancesSet":{},"filterSet":{}}"#,
            ),
            (
                Svc::Ec2,
                "DescribeSecurityGroups",
                r#"{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}"#,
            ),
            (
                Svc::Ec2,
                "DescribeNetworkInterfaces",
                r#"{"networkInterfaceIdSet":{},"filterSet":{}}"#,
            ),
            (
                Svc::AutoScaling,
                "DescribeAutoScalingGroups",
                r#"{"maxRecords":100}"#,
            ),
            (Svc::Elbv2, "DescribeLoadBalancers", "null"),
            (Svc::Kms, "DescribeKey", ""),
        ];
        let (svc, name, raw) = *r.pick(APIS);
        if name == "DescribeKey" {
            let j = &mut self.params;
            j.obj();
            j.kstr("keyId", &w.kms_key_arn);
            j.end_obj();
            self.resources
                .push(("AWS::KMS::Key", w.kms_key_arn.clone()));
        } else if raw != "null" {
            self.params.raw(raw);
        }
        let start = (t - 300).div_euclid(3600) * 3600 + 300;
        let head = Head {
            t,
            svc,
            name,
            ident: Ident::Assumed {
                account: &w.account,
                role: "AWSServiceRoleForConfig",
                role_pid: &w.config_slr_pid,
                session: "AWSConfig-Describe",
                key: upper_id("ASIA", hash(&[w.seed, 0xC0F, start as u64]), 16),
                created: start,
                mfa: false,
                invoked_by: Some("config.amazonaws.com"),
                console: false,
            },
            ip: "config.amazonaws.com",
            ua: "config.amazonaws.com",
            ua_suffix: None,
            error: None,
            read_only: true,
            data_event: false,
            tls: false,
            host_override: None,
            shared_event: false,
        };
        self.emit(out, w, r, head);
    }

    fn service_assume(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng) {
        let (svc_name, role, session) = match r.below(3) {
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
        let j = &mut self.params;
        j.obj();
        j.kstr("roleArn", &role_arn);
        j.kstr("roleSessionName", &session);
        j.end_obj();
        let rpid = upper_id("AROA", hash(&[w.seed, 0xB0B, role.len() as u64]), 17);
        let rj = &mut self.resp;
        rj.obj();
        rj.key("credentials");
        rj.obj();
        rj.kstr("accessKeyId", &upper_id("ASIA", r.next_u64(), 16));
        rj.kstr(
            "sessionToken",
            &format!("IQoJb3JpZ2luX2Vj{}", upper_id("", r.next_u64(), 120)),
        );
        rj.kstr("expiration", &sts_expiration(t + 21_600));
        rj.end_obj();
        rj.key("assumedRoleUser");
        rj.obj();
        rj.kstr("assumedRoleId", &format!("{rpid}:{session}"));
        rj.kstr(
            "arn",
            &format!("arn:aws:sts::{}:assumed-role/{role}/{session}", w.account),
        );
        rj.end_obj();
        rj.end_obj();
        self.resources.push(("AWS::IAM::Role", role_arn));
        let head = Head {
            t,
            svc: Svc::Sts,
            name: "AssumeRole",
            ident: Ident::Service(svc_name),
            ip: svc_name,
            ua: svc_name,
            ua_suffix: None,
            error: None,
            read_only: true,
            data_event: false,
            tls: false,
            host_override: None,
            shared_event: true,
        };
        self.emit(out, w, r, head);
    }

    fn cloudtrail_kms(&mut self, out: &mut Json, w: &World, t: i64, r: &mut Rng) {
        let j = &mut self.params;
        j.obj();
        j.kstr("keyId", &w.kms_key_arn);
        j.key("encryptionContext");
        j.obj();
        j.kstr(
            "aws:cloudtrail:arn",
            &format!(
                "arn:aws:cloudtrail:{}:{}:trail/management-events",
                w.region, w.managing_account
            ),
        );
        j.kstr(
            "aws:s3:arn",
            &format!("arn:aws:s3:::{}/AWSLogs/{}/", w.trail_bucket, w.account),
        );
        j.end_obj();
        j.kstr("keySpec", "AES_256");
        j.end_obj();
        self.resources
            .push(("AWS::KMS::Key", w.kms_key_arn.clone()));
        let head = Head {
            t,
            svc: Svc::Kms,
            name: "GenerateDataKey",
            ident: Ident::Service("cloudtrail.amazonaws.com"),
            ip: "cloudtrail.amazonaws.com",
            ua: "cloudtrail.amazonaws.com",
            ua_suffix: None,
            error: None,
            read_only: true,
            data_event: false,
            tls: false,
            host_override: None,
            shared_event: true,
        };
        self.emit(out, w, r, head);
    }

    /// Write the record; params/resp/resources/additional come from the scratch buffers.
    fn emit(&mut self, j: &mut Json, w: &World, r: &mut Rng, h: Head<'_>) {
        let data_event = h.data_event;
        let global = h.svc == Svc::Iam;
        let region: &str = if global { "us-east-1" } else { &w.region };
        j.obj();
        j.kstr("eventVersion", if data_event { "1.10" } else { "1.09" });
        j.key("userIdentity");
        j.obj();
        match &h.ident {
            Ident::Assumed {
                account,
                role,
                role_pid,
                session,
                key,
                created,
                mfa,
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
                j.kstr("mfaAuthenticated", if *mfa { "true" } else { "false" });
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
