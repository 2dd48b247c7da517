//! Pipeline executions: a Spinnaker deploy as the CloudTrail records it, one named step per call.
//!
//! A deploy is a red/black (blue/green) replacement of a server group (an Auto Scaling group
//! `<app>-<stack>-vNNN`): find the image, create the new group's launch template and group, let Auto
//! Scaling launch its instances, wait until they are healthy, disable the old group and destroy the
//! one before it. A rollback puts the previous image back and moves the targets around.

use super::events::{Head, Renderer, ServiceLinkedRole, Svc, ALL_SUBNETS};
use super::json::Json;
use super::rng::Rng;
use super::time::iso;
use super::world::{hex_id, App, World};

/// A pipeline execution's deploy.
pub(crate) struct Exec {
    pub app: usize,
    /// Spinnaker's execution id (a ULID), in the user agent of each call.
    pub id: String,
    pub user: &'static str,
    pub rollback: bool,
    /// The deploy stops at creating the server group (access denied to the launch template).
    pub fail: bool,
    /// Launch template of the new server group.
    pub new_lt: String,
}

impl Exec {
    pub(crate) fn steps(&self) -> &'static [Step] {
        steps(self.rollback)
    }
}

/// The steps of a deploy or of a rollback.
pub(crate) fn steps(rollback: bool) -> &'static [Step] {
    if rollback {
        ROLLBACK_STEPS
    } else {
        DEPLOY_STEPS
    }
}

/// Steps of a deploy, each one API call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Step {
    DescribeImages,
    DescribeSecurityGroups,
    DescribeSubnets,
    CreateLaunchTemplate,
    CreateAutoScalingGroup,
    CreateOrUpdateTags,
    /// Auto Scaling launching the new group's instances (not Spinnaker's call).
    AsgRunInstances,
    DescribeAutoScalingGroups,
    DescribeTargetHealth,
    SuspendProcesses,
    DeregisterTargets,
    RegisterTargets,
    ResumeProcesses,
    ResizeOld,
    /// Auto Scaling terminating the resized group's instances (not Spinnaker's call).
    AsgTerminateInstances,
    DeleteAutoScalingGroup,
    DeleteLaunchTemplate,
    CreateLaunchTemplateVersion,
}

impl Step {
    /// The call is Auto Scaling's consequence of Spinnaker's change, made with its service-linked
    /// role rather than Spinnaker's session.
    pub(crate) fn by_auto_scaling(self) -> bool {
        matches!(self, Step::AsgRunInstances | Step::AsgTerminateInstances)
    }
}

const DEPLOY_STEPS: &[Step] = &[
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

const ROLLBACK_STEPS: &[Step] = &[
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

/// Auto Scaling's service-linked role, which launches and terminates the instances.
const AUTO_SCALING_ROLE: ServiceLinkedRole = ServiceLinkedRole {
    role: "AWSServiceRoleForAutoScaling",
    session: "AutoScaling",
    service: "autoscaling.amazonaws.com",
    key_tag: 0xA5C,
};

/// The server groups a deploy touches.
struct ServerGroups {
    /// The group the deploy creates.
    new: String,
    /// The group serving until now.
    old: String,
    /// The group before it: scaled to zero and destroyed.
    older: String,
}

impl ServerGroups {
    fn of(app: &App) -> Self {
        ServerGroups {
            new: app.server_group(app.version + 1),
            old: app.server_group(app.version),
            older: app.server_group(app.version.saturating_sub(1)),
        }
    }
}

/// The API call of one step, as the record's header needs it.
struct Call {
    svc: Svc,
    name: &'static str,
    read_only: bool,
    error: Option<(&'static str, String)>,
}

impl Call {
    fn reads(svc: Svc, name: &'static str) -> Self {
        Call {
            svc,
            name,
            read_only: true,
            error: None,
        }
    }

    fn changes(svc: Svc, name: &'static str) -> Self {
        Call {
            read_only: false,
            ..Call::reads(svc, name)
        }
    }
}

impl Renderer {
    /// One step of a pipeline execution's deploy. Spinnaker's calls carry the pipeline's user and
    /// execution id in the user agent.
    pub(super) fn deploy(
        &mut self,
        out: &mut Json,
        w: &World,
        t: i64,
        r: &mut Rng,
        ex: &Exec,
        step: u8,
    ) {
        let step = ex.steps()[step as usize];
        let app = &w.apps[ex.app];
        let groups = ServerGroups::of(app);
        // The group whose scaling processes the deploy suspends; a rollback toggles the new one.
        let toggled = if ex.rollback {
            &groups.new
        } else {
            &groups.old
        };
        let call = match step {
            Step::DescribeImages => self.describe_image(app),
            Step::DescribeSecurityGroups => self.describe_security_groups(w),
            Step::DescribeSubnets => self.describe_subnets(),
            Step::CreateLaunchTemplate => {
                self.create_launch_template(w, t, r, app, ex, &groups.new)
            }
            Step::CreateAutoScalingGroup => self.create_server_group(w, r, app, ex, &groups.new),
            Step::CreateOrUpdateTags => self.tag_server_group(app, &groups.new),
            Step::AsgRunInstances => self.asg_launches_instance(w, r, app, ex),
            Step::DescribeAutoScalingGroups => self.describe_server_groups(&groups),
            Step::DescribeTargetHealth => self.describe_target_health(app),
            Step::SuspendProcesses => self.scaling_processes("SuspendProcesses", toggled),
            Step::DeregisterTargets => self.move_targets("DeregisterTargets", app),
            Step::ResizeOld => self.scale_older_group_to_zero(&groups),
            Step::AsgTerminateInstances => self.asg_terminates_instances(app),
            Step::DeleteAutoScalingGroup => self.destroy_older_group(&groups),
            Step::DeleteLaunchTemplate => self.delete_old_launch_template(app),
            Step::ResumeProcesses => self.scaling_processes("ResumeProcesses", toggled),
            Step::RegisterTargets => self.move_targets("RegisterTargets", app),
            Step::CreateLaunchTemplateVersion => self.restore_launch_template(app),
        };
        let head = if step.by_auto_scaling() {
            // Auto Scaling's session began just before Spinnaker's.
            let created = w.spin_session_start(t) - 17;
            Head::service_linked(
                w,
                t,
                call.svc,
                call.name,
                &AUTO_SCALING_ROLE,
                &w.asg_slr_pid,
                created,
            )
        } else {
            Head {
                ua_suffix: Some((ex.user, &ex.id)),
                ..Head::spinnaker(w, t, r, call.svc, call.name)
            }
        };
        let head = Head {
            error: call.error,
            read_only: call.read_only,
            ..head
        };
        self.emit(out, w, r, head);
    }

    /// Finds the baked image to deploy.
    fn describe_image(&mut self, app: &App) -> Call {
        let j = &mut self.params;
        j.obj();
        j.key("executableBySet");
        j.raw("{}");
        j.key("imagesSet");
        j.ec2_items("imageId", [&app.ami]);
        j.key("ownersSet");
        j.raw("{}");
        j.key("filterSet");
        j.raw("{}");
        j.end_obj();
        Call::reads(Svc::Ec2, "DescribeImages")
    }

    /// Checks the security groups the new server group gets.
    fn describe_security_groups(&mut self, w: &World) -> Call {
        let j = &mut self.params;
        j.obj();
        j.key("securityGroupSet");
        j.raw("{}");
        j.key("securityGroupIdSet");
        j.ec2_items("groupId", &w.security_groups[..2]);
        j.key("filterSet");
        j.raw("{}");
        j.end_obj();
        Call::reads(Svc::Ec2, "DescribeSecurityGroups")
    }

    fn describe_subnets(&mut self) -> Call {
        self.params.raw(ALL_SUBNETS);
        Call::reads(Svc::Ec2, "DescribeSubnets")
    }

    /// The new server group's launch template, and EC2's answer.
    fn create_launch_template(
        &mut self,
        w: &World,
        t: i64,
        r: &mut Rng,
        app: &App,
        ex: &Exec,
        new_group: &str,
    ) -> Call {
        let name = format!("{new_group}-{}", t * 1000);
        let j = &mut self.params;
        j.obj();
        j.key("CreateLaunchTemplateRequest");
        j.obj();
        j.kstr("LaunchTemplateName", &name);
        j.key("LaunchTemplateData");
        j.obj();
        j.kstr("ImageId", &app.ami);
        j.kstr("InstanceType", app.instance_type);
        j.key("IamInstanceProfile");
        j.str_obj("Name", "BaseInstanceProfile");
        j.key("SecurityGroupId");
        j.arr();
        j.obj();
        j.kstr("content", &w.security_groups[0]);
        j.ku64("tag", 1);
        j.end_obj();
        j.end_arr();
        j.kstr("UserData", "<sensitiveDataRemoved>");
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
        rj.kstr("launchTemplateName", &name);
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
        Call::changes(Svc::Ec2, "CreateLaunchTemplate")
    }

    /// A rollback points the current launch template at the image again.
    fn restore_launch_template(&mut self, app: &App) -> Call {
        let j = &mut self.params;
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
        Call::changes(Svc::Ec2, "CreateLaunchTemplateVersion")
    }

    /// The new server group; a failing deploy is refused its launch template here.
    fn create_server_group(
        &mut self,
        w: &World,
        r: &mut Rng,
        app: &App,
        ex: &Exec,
        new_group: &str,
    ) -> Call {
        let j = &mut self.params;
        j.obj();
        j.kstr("autoScalingGroupName", new_group);
        j.key("launchTemplate");
        j.obj();
        j.kstr("launchTemplateId", &ex.new_lt);
        j.kstr("version", "$Latest");
        j.end_obj();
        let size = 2 + r.below(4);
        j.ku64("minSize", size);
        j.ku64("maxSize", size);
        j.ku64("desiredCapacity", size);
        j.ku64("defaultCooldown", 10);
        j.key("availabilityZones");
        j.strs(&w.azs);
        j.key("targetGroupARNs");
        j.strs([&app.tg_arn]);
        j.kstr("healthCheckType", "ELB");
        j.ku64("healthCheckGracePeriod", 600);
        j.kstr("vPCZoneIdentifier", &w.subnets.join(","));
        j.key("terminationPolicies");
        j.raw(r#"["Default"]"#);
        j.kbool("newInstancesProtectedFromScaleIn", false);
        j.end_obj();
        let mut call = Call::changes(Svc::AutoScaling, "CreateAutoScalingGroup");
        if ex.fail {
            call.error = Some((
                "AccessDenied",
                format!(
                    "You are not authorized to use launch template: {}",
                    ex.new_lt
                ),
            ));
        }
        call
    }

    /// Spinnaker's application and stack tags on the new server group.
    fn tag_server_group(&mut self, app: &App, new_group: &str) -> Call {
        let application = app.cluster.split('-').next().unwrap_or("");
        let stack = app.cluster.rsplit('-').next().unwrap_or("");
        let j = &mut self.params;
        j.obj();
        j.key("tags");
        j.arr();
        for (k, v) in [
            ("spinnaker:application", application),
            ("spinnaker:stack", stack),
        ] {
            j.obj();
            j.kstr("resourceId", new_group);
            j.kstr("resourceType", "auto-scaling-group");
            j.kstr("key", k);
            j.kstr("value", v);
            j.kbool("propagateAtLaunch", true);
            j.end_obj();
        }
        j.end_arr();
        j.end_obj();
        Call::changes(Svc::AutoScaling, "CreateOrUpdateTags")
    }

    /// Auto Scaling launches an instance of the new server group, and EC2 answers.
    fn asg_launches_instance(&mut self, w: &World, r: &mut Rng, app: &App, ex: &Exec) -> Call {
        let j = &mut self.params;
        j.obj();
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
        j.end_obj();
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
        Call::changes(Svc::Ec2, "RunInstances")
    }

    /// Waits for the new server group (and looks at the old one).
    fn describe_server_groups(&mut self, groups: &ServerGroups) -> Call {
        let j = &mut self.params;
        j.obj();
        j.key("autoScalingGroupNames");
        j.strs([&groups.new, &groups.old]);
        j.end_obj();
        Call::reads(Svc::AutoScaling, "DescribeAutoScalingGroups")
    }

    /// Waits until the instances are healthy in the target group.
    fn describe_target_health(&mut self, app: &App) -> Call {
        self.params.str_obj("targetGroupArn", &app.tg_arn);
        Call::reads(Svc::Elbv2, "DescribeTargetHealth")
    }

    /// Suspends (disables) or resumes (enables) a server group's scaling.
    fn scaling_processes(&mut self, name: &'static str, group: &str) -> Call {
        let j = &mut self.params;
        j.obj();
        j.kstr("autoScalingGroupName", group);
        j.key("scalingProcesses");
        j.strs([
            "Launch",
            "Terminate",
            "AddToLoadBalancer",
            "AlarmNotification",
        ]);
        j.end_obj();
        Call::changes(Svc::AutoScaling, name)
    }

    /// Takes the instances out of the target group (or puts them back).
    fn move_targets(&mut self, name: &'static str, app: &App) -> Call {
        let j = &mut self.params;
        j.obj();
        j.kstr("targetGroupArn", &app.tg_arn);
        j.key("targets");
        j.str_objs("id", &app.instances);
        j.end_obj();
        Call::changes(Svc::Elbv2, name)
    }

    fn scale_older_group_to_zero(&mut self, groups: &ServerGroups) -> Call {
        let j = &mut self.params;
        j.obj();
        j.kstr("autoScalingGroupName", &groups.older);
        j.ku64("minSize", 0);
        j.ku64("maxSize", 0);
        j.ku64("desiredCapacity", 0);
        j.end_obj();
        Call::changes(Svc::AutoScaling, "UpdateAutoScalingGroup")
    }

    /// Auto Scaling terminates the instances of the group scaled to zero.
    fn asg_terminates_instances(&mut self, app: &App) -> Call {
        let j = &mut self.params;
        j.obj();
        j.key("instancesSet");
        j.ec2_items("instanceId", &app.instances[..2]);
        j.end_obj();
        Call::changes(Svc::Ec2, "TerminateInstances")
    }

    fn destroy_older_group(&mut self, groups: &ServerGroups) -> Call {
        let j = &mut self.params;
        j.obj();
        j.kstr("autoScalingGroupName", &groups.older);
        j.kbool("forceDelete", true);
        j.end_obj();
        Call::changes(Svc::AutoScaling, "DeleteAutoScalingGroup")
    }

    fn delete_old_launch_template(&mut self, app: &App) -> Call {
        let j = &mut self.params;
        j.obj();
        j.key("DeleteLaunchTemplateRequest");
        j.str_obj("LaunchTemplateId", &app.lt_id);
        j.end_obj();
        Call::changes(Svc::Ec2, "DeleteLaunchTemplate")
    }
}
