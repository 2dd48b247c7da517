"""Athena queries written by others for CloudTrail, run unchanged on the local engine.

Each case is a query from AWS's documentation, AWS's incident-response playbooks and samples or a
public repository, kept as written: its source is named above it and the session is opened with
the table (and database) name the query uses, so not even the table name is edited. Values the
source tells its reader to replace (an access key, `START_TIME`, a bucket name, a date range "to
modify as needed") are filled from the data set, the way a reader would; `fill` shows each one.

Every query runs on generated Spinnaker logs and on the real records in `tests/data/real`. Its
answer is worked out in plain Python from the raw JSON records (`corpus_reference`), never with
spintrail; a query Athena refuses must raise the error class spintrail uses for that.

`xfail` marks what fails today for a reason that is ours (issue 11); they are strict, so a fix
turns them into failures that ask for the mark to go. Keep the corpus growing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import spintrail
from conftest import CONFORMING, REAL
from corpus_reference import (
    Answer,
    Dataset,
    Raises,
    Record,
    count,
    count_star,
    decimal_div,
    hour,
    iso,
    json_scalar,
    like,
    load_records,
    max_of,
    min_of,
    most_common,
    text,
    value,
)
from spintrail.errors import SqlError, UnsupportedFunctionError
from spintrail.generate import generate

DESC = True

# Why a case fails today (issue 11); each names the rule a fix must follow.

# The session option that shows the table with the partition columns of AWS's documented tables
# (item 3 of issue 11): "aws-manual" (region, year, month, day), "aws-projection" (timestamp).
LAYOUT_OPTION = "partitions"


@dataclass(frozen=True)
class Case:
    id: str
    sql: str
    answer: Callable[[Dataset], Answer | Raises]
    table: str = "cloudtrail_logs"
    fill: Mapping[str, str] = field(default_factory=dict)
    layout: str | None = None
    xfail: str | Mapping[str, str] | None = None

    def query(self, values: Mapping[str, str]) -> str:
        sql = self.sql
        for placeholder, template in self.fill.items():
            assert placeholder in sql, placeholder
            sql = sql.replace(placeholder, template.format(**values))
        return sql


def window(d: Dataset) -> Callable[[Record], bool]:
    """`eventTime BETWEEN 'START_TIME' AND 'END_TIME'` (string comparison, as on Athena)."""
    return lambda r: d.values["start"] <= r["eventTime"] <= d.values["end"]


def key_is(d: Dataset) -> Callable[[Record], bool]:
    return lambda r: value(r, "useridentity.accesskeyid") == d.values["access_key"]


def on_bucket(d: Dataset) -> Callable[[Record], bool]:
    return lambda r: like(text(r, "requestparameters"), f"%{d.values['bucket']}%")


def partition(d: Dataset, r: Record, *, day: bool = True) -> bool:
    """`year = '####' and month = '##' [and day = '##']` of the manual-partition layout."""
    date = r["eventTime"][:10]
    wanted = d.values["date"] if day else d.values["date"][:7]
    return date[: len(wanted)] == wanted


def src(r: Record) -> str | None:
    return value(r, "eventsource")


def name(r: Record) -> str | None:
    return value(r, "eventname")


def arn_of(r: Record) -> str | None:
    return value(r, "useridentity.arn")


KEY_WINDOW = {
    "AKIAIOSFODNN7EXAMPLE": "{access_key}",
    "START_TIME": "{start}",
    "END_TIME": "{end}",
}
WINDOW = {"START_TIME": "{start}", "END_TIME": "{end}"}
BUCKET_WINDOW = {"BUCKET_NAME": "{bucket}", **WINDOW}
SUSPECT_WINDOW = {"SUSPECT_PRINCIPAL": "{s3_reader}", **WINDOW}
S3_GUIDE_WINDOW = {"2019-07-05T00:00:00Z": "{start}", "2019-07-06T00:00:00Z": "{end}"}
MANUAL_DAY = {
    "'####'": "'{year}'",
    "month = '##'": "month = '{month}'",
    "day = '##'": "day = '{day}'",
}
MANUAL_MONTH = {"'####'": "'{year}'", "'##'": "'{month}'"}
KEY_IP = {"AKIAREDACTED": "{access_key}", "1.2.3.4": "{key_ip}"}


def mean_interval(d: Dataset) -> Answer | Raises:
    """`DATE_DIFF(...)*1.0/(event_count-1)`: a DECIMAL(…,1) quotient, and Trino's 'Division by
    zero' for an account seen once."""
    times: dict[str, list[str]] = {}
    for r in d.records:
        account = value(r, "useridentity.accountid")
        if account is not None:
            times.setdefault(account, []).append(r["eventTime"])
    rows = []
    for account, seen in times.items():
        seconds = int((iso(max(seen)) - iso(min(seen))).total_seconds())
        if len(seen) == 1:
            return Raises(SqlError, "(?i)division by zero")
        rows.append((account, decimal_div(Decimal(seconds) * Decimal("1.0"), len(seen) - 1, 1)))
    return Answer(rows)


def error_percentage(d: Dataset) -> Answer:
    errors = len(d.where(lambda r: r.get("errorCode") is not None))
    return Answer([(decimal_div(Decimal(errors) * Decimal("100.0"), len(d.records), 1),)])


CASES: list[Case] = [
    # --- Amazon Athena User Guide, "Querying AWS CloudTrail logs"
    # https://docs.aws.amazon.com/athena/latest/ug/cloudtrail-logs.html
    # (awsdocs/amazon-athena-user-guide@75b04ee doc_source/cloudtrail-logs.md)
    # source: Athena UG: Querying nested fields (userIdentity)
    Case(
        "athena-ug-nested-sessionissuer",
        """SELECT
    eventsource,
    eventname,
    useridentity.sessioncontext.attributes.creationdate,
    useridentity.sessioncontext.sessionissuer.arn
FROM cloudtrail_logs
WHERE useridentity.sessioncontext.sessionissuer.arn IS NOT NULL
ORDER BY eventsource, eventname
LIMIT 10""",
        lambda d: (
            d.select(
                [
                    "eventsource",
                    "eventname",
                    "useridentity.sessioncontext.attributes.creationdate",
                    "useridentity.sessioncontext.sessionissuer.arn",
                ],
                lambda r: value(r, "useridentity.sessioncontext.sessionissuer.arn") is not None,
            )
            .order_by(0, 1)
            .top(10)
        ).named("eventsource", "eventname", "creationdate", "arn"),
    ),
    # source: Athena UG: Querying nested fields (resources, CROSS JOIN UNNEST)
    Case(
        "athena-ug-unnest-s3-resource",
        """SELECT
    awsregion,
    replace(unnested.resources_entry.ARN,'arn:aws:s3:::') as s3_resource,
    eventname,
    eventtime,
    useragent
FROM cloudtrail_logs t
CROSS JOIN UNNEST(t.resources) unnested (resources_entry)
WHERE unnested.resources_entry.ARN LIKE '%example/datafile.txt'
ORDER BY eventtime""",
        lambda d: Answer(
            [
                (
                    value(r, "awsregion"),
                    res["ARN"].replace("arn:aws:s3:::", ""),
                    name(r),
                    r["eventTime"],
                    value(r, "useragent"),
                )
                for r, res in d.unnest_resources(lambda r: True)
                if like(res.get("ARN"), "%example/datafile.txt")
            ]
        ).order_by(3),
    ),
    # source: Athena UG: Querying nested fields (DeleteBucket events)
    Case(
        "athena-ug-unnest-deleted-bucket",
        """SELECT
    awsregion,
    replace(unnested.resources_entry.ARN,'arn:aws:s3:::') as deleted_bucket,
    eventtime AS time_deleted,
    useridentity.username,
    unnested.resources_entry.accountid as bucket_acct_id
FROM cloudtrail_logs t
CROSS JOIN UNNEST(t.resources) unnested (resources_entry)
WHERE eventname = 'DeleteBucket'
ORDER BY eventtime""",
        lambda d: Answer(
            [
                (
                    value(r, "awsregion"),
                    (res.get("ARN") or "").replace("arn:aws:s3:::", "") or None,
                    r["eventTime"],
                    value(r, "useridentity.username"),
                    res.get("accountId"),
                )
                for r, res in d.unnest_resources(lambda r: name(r) == "DeleteBucket")
            ]
        ).order_by(2),
    ),
    # source: Athena UG: Example query (anonymous requests); bucket placeholder filled
    Case(
        "athena-ug-anonymous-getobject",
        """SELECT *
FROM cloudtrail_logs
WHERE
    eventsource = 's3.amazonaws.com' AND
    eventname in ('GetObject') AND
    useridentity.accountid = 'anonymous' AND
    useridentity.arn IS NULL AND
    requestparameters LIKE '%[your bucket name ]%';""",
        lambda d: d.select(
            ["eventid"],
            lambda r: (
                src(r) == "s3.amazonaws.com"
                and name(r) == "GetObject"
                and value(r, "useridentity.accountid") == "anonymous"
                and arn_of(r) is None
                and on_bucket(d)(r)
            ),
        ).compare("eventid"),
        fill={"[your bucket name ]": "{bucket}"},
    ),
    # source: Athena UG (2021 text, awsdocs/amazon-athena-user-guide@24df7d8): anonymous requests
    Case(
        "athena-ug-anonymous-like",
        """SELECT *
FROM cloudtrail_logs
WHERE
    eventsource = 's3.amazonaws.com' AND
    eventname in ('GetObject') AND
    useridentity.accountid LIKE '%ANONYMOUS%' AND
    useridentity.arn IS NULL AND
    requestparameters LIKE '%[your bucket name ]%';""",
        lambda d: d.select(
            ["eventid"],
            lambda r: (
                src(r) == "s3.amazonaws.com"
                and name(r) == "GetObject"
                and like(value(r, "useridentity.accountid"), "%ANONYMOUS%")
                and arn_of(r) is None
                and on_bucket(d)(r)
            ),
        ).compare("eventid"),
        fill={"[your bucket name ]": "{bucket}"},
    ),
    # source: Athena UG: Tips for querying CloudTrail logs (basic template)
    Case(
        "athena-ug-basic-template",
        """SELECT
 useridentity.arn,
 eventname,
 sourceipaddress,
 eventtime
FROM cloudtrail_logs
LIMIT 100;""",
        lambda d: d.select(
            ["useridentity.arn", "eventname", "sourceipaddress", "eventtime"], lambda r: True
        ).top(100),
    ),
    # source: Athena UG, "Filtering arrays using the . notation" (awsdocs/amazon-athena-user-guide
    #   @75b04ee doc_source/rows-and-structs.md)
    Case(
        "athena-ug-cast-accountid",
        """SELECT
  CAST(useridentity.accountid AS bigint) as newid
FROM cloudtrail_logs
LIMIT 2;""",
        lambda d: (
            d.select(
                [lambda r: None if (a := value(r, "useridentity.accountid")) is None else int(a)],
                lambda r: True,
            )
            .top(2)
            .named("newid")
        ),
    ),
    # --- Amazon S3 User Guide, "Identifying Amazon S3 requests using CloudTrail"
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-request-identification.html
    # (awsdocs/amazon-s3-userguide@0906474 doc_source/cloudtrail-request-identification.md)
    # source: S3 UG: Use Athena to query CloudTrail event logs (test query)
    Case(
        "s3-ug-test-query",
        """SELECT * FROM s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket1_table
   WHERE eventsource='s3.amazonaws.com'
   LIMIT 2;""",
        lambda d: (
            d.select(["eventid"], lambda r: src(r) == "s3.amazonaws.com").compare("eventid").top(2)
        ),
        table="s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket1_table",
    ),
    # source: S3 UG: Select all Signature Version 2 events
    Case(
        "s3-ug-sigv2-events",
        """SELECT EventTime, EventName as S3_Action, requestParameters as Request_Parameters, awsregion as AWS_Region, sourceipaddress as Source_IP, useragent as User_Agent
FROM s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket1_table
WHERE eventsource='s3.amazonaws.com'
AND json_extract_scalar(additionalEventData, '$.SignatureVersion')='SigV2'
LIMIT 10;""",  # noqa: E501
        lambda d: (
            d.select(
                [
                    "eventtime",
                    "eventname",
                    "requestparameters",
                    "awsregion",
                    "sourceipaddress",
                    "useragent",
                ],
                lambda r: (
                    src(r) == "s3.amazonaws.com"
                    and json_scalar(r, "additionaleventdata", "$.SignatureVersion") == "SigV2"
                ),
            )
            .top(10)
            .named(
                "eventtime",
                "s3_action",
                "request_parameters",
                "aws_region",
                "source_ip",
                "user_agent",
            )
        ),
        table="s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket1_table",
    ),
    # source: S3 UG: Select all requesters that are sending Signature Version 2 traffic
    Case(
        "s3-ug-sigv2-requesters",
        """SELECT useridentity.arn, Count(requestid) as RequestCount
FROM s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket1_table
WHERE eventsource='s3.amazonaws.com'
    and json_extract_scalar(additionalEventData, '$.SignatureVersion')='SigV2'
Group by useridentity.arn""",
        lambda d: d.group(
            ["useridentity.arn", count("requestid")],
            lambda r: (
                src(r) == "s3.amazonaws.com"
                and json_scalar(r, "additionaleventdata", "$.SignatureVersion") == "SigV2"
            ),
        ).named("arn", "requestcount"),
        table="s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket1_table",
    ),
    # source: S3 UG: Partitioning Signature Version 2 data (SigV4 counted, partitions filled)
    Case(
        "s3-ug-sigv2-partitioned",
        """SELECT useridentity.arn,
Count(requestid) AS RequestCount
FROM s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket1_table_partitioned
WHERE eventsource='s3.amazonaws.com'
AND json_extract_scalar(additionalEventData, '$.SignatureVersion')='SigV2'
AND region='us-east-1'
AND year='2019'
AND month='02'
AND day='19'
Group by useridentity.arn""",
        lambda d: d.group(
            ["useridentity.arn", count("requestid")],
            lambda r: (
                src(r) == "s3.amazonaws.com"
                and json_scalar(r, "additionaleventdata", "$.SignatureVersion") == "SigV2"
                and value(r, "awsregion") == d.values["region"]
                and partition(d, r)
            ),
        ),
        table="s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket1_table_partitioned",
        fill={
            "region='us-east-1'": "region='{region}'",
            "year='2019'": "year='{year}'",
            "month='02'": "month='{month}'",
            "day='19'": "day='{day}'",
        },
        layout="aws-manual",
    ),
    # source: S3 UG: Select all events that have PUT object access requests
    Case(
        "s3-ug-putobject-window",
        """SELECT
  eventTime,
  eventName,
  eventSource,
  sourceIpAddress,
  userAgent,
  json_extract_scalar(requestParameters, '$.bucketName') as bucketName,
  json_extract_scalar(requestParameters, '$.key') as object,
  userIdentity.arn as userArn
FROM
  s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket_table
WHERE
  eventName = 'PutObject'
  AND eventTime BETWEEN '2019-07-05T00:00:00Z' and '2019-07-06T00:00:00Z'""",
        lambda d: d.select(
            [
                "eventtime",
                "eventname",
                "eventsource",
                "sourceipaddress",
                "useragent",
                lambda r: json_scalar(r, "requestparameters", "$.bucketName"),
                lambda r: json_scalar(r, "requestparameters", "$.key"),
                "useridentity.arn",
            ],
            lambda r: name(r) == "PutObject" and window(d)(r),
        ),
        table="s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket_table",
        fill=S3_GUIDE_WINDOW,
    ),
    # source: S3 UG: Select all events that have GET object access requests
    Case(
        "s3-ug-getobject-window",
        """SELECT
  eventTime,
  eventName,
  eventSource,
  sourceIpAddress,
  userAgent,
  json_extract_scalar(requestParameters, '$.bucketName') as bucketName,
  json_extract_scalar(requestParameters, '$.key') as object,
  userIdentity.arn as userArn
FROM
  s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket_table
WHERE
  eventName = 'GetObject'
  AND eventTime BETWEEN '2019-07-05T00:00:00Z' and '2019-07-06T00:00:00Z'""",
        lambda d: d.select(
            [
                "eventtime",
                "eventname",
                "eventsource",
                "sourceipaddress",
                "useragent",
                lambda r: json_scalar(r, "requestparameters", "$.bucketName"),
                lambda r: json_scalar(r, "requestparameters", "$.key"),
                "useridentity.arn",
            ],
            lambda r: name(r) == "GetObject" and window(d)(r),
        ),
        table="s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket_table",
        fill=S3_GUIDE_WINDOW,
    ),
    # source: S3 UG: Select all anonymous requester events to a bucket in a certain period
    Case(
        "s3-ug-anonymous-window",
        """SELECT
  eventTime,
  eventName,
  eventSource,
  sourceIpAddress,
  userAgent,
  json_extract_scalar(requestParameters, '$.bucketName') as bucketName,
  userIdentity.arn as userArn,
  userIdentity.accountId
FROM
  s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket_table
WHERE
  userIdentity.accountId='ANONYMOUS_PRINCIPAL'
  AND eventTime BETWEEN '2019-07-05T00:00:00Z' and '2019-07-06T00:00:00Z'""",
        lambda d: d.select(
            [
                "eventtime",
                "eventname",
                "eventsource",
                "sourceipaddress",
                "useragent",
                lambda r: json_scalar(r, "requestparameters", "$.bucketName"),
                "useridentity.arn",
                "useridentity.accountid",
            ],
            lambda r: value(r, "useridentity.accountid") == "ANONYMOUS_PRINCIPAL" and window(d)(r),
        ).named(
            "eventtime",
            "eventname",
            "eventsource",
            "sourceipaddress",
            "useragent",
            "bucketname",
            "userarn",
            "accountid",
        ),
        table="s3_cloudtrail_events_db.cloudtrail_myawsexamplebucket_table",
        fill=S3_GUIDE_WINDOW,
    ),
    # --- AWS incident-response playbooks: IAM credential compromise
    # (aws-samples/aws-incident-response-playbooks@ac15f41
    #  playbooks/resources/athena-queries-credential-compromise.sql)
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-credential-compromise.sql #1
    Case(
        "ir-cred-all-calls-by-key",
        """SELECT eventTime, eventName, awsRegion, sourceIPAddress, userAgent,
       requestParameters, responseElements, errorCode
FROM cloudtrail_logs
WHERE userIdentity.accessKeyId = 'AKIAIOSFODNN7EXAMPLE'
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            [
                "eventtime",
                "eventname",
                "awsregion",
                "sourceipaddress",
                "useragent",
                "requestparameters",
                "responseelements",
                "errorcode",
            ],
            lambda r: key_is(d)(r) and window(d)(r),
        ).order_by(0),
        fill=KEY_WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-credential-compromise.sql #2
    Case(
        "ir-cred-ips-and-agents",
        """SELECT sourceIPAddress, userAgent, COUNT(*) as call_count,
       MIN(eventTime) as first_seen, MAX(eventTime) as last_seen
FROM cloudtrail_logs
WHERE userIdentity.accessKeyId = 'AKIAIOSFODNN7EXAMPLE'
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
GROUP BY sourceIPAddress, userAgent
ORDER BY first_seen ASC;""",
        lambda d: (
            d.group(
                [
                    "sourceipaddress",
                    "useragent",
                    count_star(),
                    min_of("eventtime"),
                    max_of("eventtime"),
                ],
                lambda r: key_is(d)(r) and window(d)(r),
            )
            .order_by(3)
            .named("sourceipaddress", "useragent", "call_count", "first_seen", "last_seen")
        ),
        fill=KEY_WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-credential-compromise.sql #3
    Case(
        "ir-cred-persistence",
        """SELECT eventTime, eventName, sourceIPAddress, requestParameters, responseElements
FROM cloudtrail_logs
WHERE userIdentity.accessKeyId = 'AKIAIOSFODNN7EXAMPLE'
  AND eventName IN ('CreateUser', 'CreateRole', 'CreateAccessKey',
                    'CreateLoginProfile', 'AttachUserPolicy', 'AttachRolePolicy',
                    'PutUserPolicy', 'PutRolePolicy', 'UpdateAssumeRolePolicy',
                    'CreateFunction', 'UpdateFunctionCode', 'AddPermission',
                    'CreateEventSourceMapping', 'PutBucketPolicy',
                    'CreateTrail', 'StopLogging', 'DeleteTrail')
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            [
                "eventtime",
                "eventname",
                "sourceipaddress",
                "requestparameters",
                "responseelements",
            ],
            lambda r: (
                key_is(d)(r)
                and name(r)
                in {
                    "CreateUser",
                    "CreateRole",
                    "CreateAccessKey",
                    "CreateLoginProfile",
                    "AttachUserPolicy",
                    "AttachRolePolicy",
                    "PutUserPolicy",
                    "PutRolePolicy",
                    "UpdateAssumeRolePolicy",
                    "CreateFunction",
                    "UpdateFunctionCode",
                    "AddPermission",
                    "CreateEventSourceMapping",
                    "PutBucketPolicy",
                    "CreateTrail",
                    "StopLogging",
                    "DeleteTrail",
                }
                and window(d)(r)
            ),
        ).order_by(0),
        fill=KEY_WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-credential-compromise.sql #4
    Case(
        "ir-cred-data-access",
        """SELECT eventTime, eventName, eventSource, requestParameters, sourceIPAddress
FROM cloudtrail_logs
WHERE userIdentity.accessKeyId = 'AKIAIOSFODNN7EXAMPLE'
  AND eventSource IN ('s3.amazonaws.com', 'dynamodb.amazonaws.com',
                      'secretsmanager.amazonaws.com', 'ssm.amazonaws.com')
  AND eventName IN ('GetObject', 'GetItem', 'BatchGetItem', 'GetSecretValue',
                    'GetParameter', 'GetParameters')
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            ["eventtime", "eventname", "eventsource", "requestparameters", "sourceipaddress"],
            lambda r: (
                key_is(d)(r)
                and src(r)
                in {
                    "s3.amazonaws.com",
                    "dynamodb.amazonaws.com",
                    "secretsmanager.amazonaws.com",
                    "ssm.amazonaws.com",
                }
                and name(r)
                in {
                    "GetObject",
                    "GetItem",
                    "BatchGetItem",
                    "GetSecretValue",
                    "GetParameter",
                    "GetParameters",
                }
                and window(d)(r)
            ),
        ).order_by(0),
        fill=KEY_WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-credential-compromise.sql #5
    Case(
        "ir-cred-assume-role",
        """SELECT eventTime, eventName, requestParameters, responseElements,
       sourceIPAddress, recipientAccountId
FROM cloudtrail_logs
WHERE userIdentity.accessKeyId = 'AKIAIOSFODNN7EXAMPLE'
  AND eventName = 'AssumeRole'
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            [
                "eventtime",
                "eventname",
                "requestparameters",
                "responseelements",
                "sourceipaddress",
                "recipientaccountid",
            ],
            lambda r: key_is(d)(r) and name(r) == "AssumeRole" and window(d)(r),
        ).order_by(0),
        fill=KEY_WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-credential-compromise.sql #6
    Case(
        "ir-cred-errors",
        """SELECT eventTime, eventName, errorCode, errorMessage, sourceIPAddress
FROM cloudtrail_logs
WHERE userIdentity.accessKeyId = 'AKIAIOSFODNN7EXAMPLE'
  AND errorCode IS NOT NULL
  AND errorCode != ''
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            ["eventtime", "eventname", "errorcode", "errormessage", "sourceipaddress"],
            lambda r: key_is(d)(r) and r.get("errorCode") not in (None, "") and window(d)(r),
        ).order_by(0),
        fill=KEY_WINDOW,
    ),
    # --- AWS incident-response playbooks: unauthorized data access
    # (aws-samples/aws-incident-response-playbooks@ac15f41
    #  playbooks/resources/athena-queries-data-access.sql)
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-data-access.sql #1
    Case(
        "ir-data-bucket-access",
        """SELECT eventTime, eventName, sourceIPAddress, userIdentity.arn,
       userAgent, requestParameters, responseElements, errorCode
FROM cloudtrail_logs
WHERE eventSource = 's3.amazonaws.com'
  AND requestParameters LIKE '%BUCKET_NAME%'
  AND eventName IN ('GetObject', 'HeadObject', 'ListObjects', 'ListObjectsV2',
                    'SelectObjectContent', 'CopyObject')
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            [
                "eventtime",
                "eventname",
                "sourceipaddress",
                "useridentity.arn",
                "useragent",
                "requestparameters",
                "responseelements",
                "errorcode",
            ],
            lambda r: (
                src(r) == "s3.amazonaws.com"
                and on_bucket(d)(r)
                and name(r)
                in {
                    "GetObject",
                    "HeadObject",
                    "ListObjects",
                    "ListObjectsV2",
                    "SelectObjectContent",
                    "CopyObject",
                }
                and window(d)(r)
            ),
        ).order_by(0),
        fill=BUCKET_WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-data-access.sql #2 (field access on a JSON string)
    Case(
        "ir-data-top-accessors",
        """SELECT userIdentity.arn, sourceIPAddress, COUNT(*) as access_count,
       SUM(CAST(additionalEventData.bytesTransferredOut AS BIGINT)) as bytes_out
FROM cloudtrail_logs
WHERE eventSource = 's3.amazonaws.com'
  AND requestParameters LIKE '%BUCKET_NAME%'
  AND eventName = 'GetObject'
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
GROUP BY userIdentity.arn, sourceIPAddress
ORDER BY access_count DESC;""",
        # additionaleventdata is a varchar on Athena: a field of it is a type error.
        lambda d: Raises(SqlError, "json_extract_scalar"),
        fill=BUCKET_WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-data-access.sql #3
    Case(
        "ir-data-bulk-reads-per-hour",
        """SELECT DATE_TRUNC('hour', from_iso8601_timestamp(eventTime)) as hour_bucket,
       userIdentity.arn, COUNT(*) as read_count
FROM cloudtrail_logs
WHERE eventSource = 's3.amazonaws.com'
  AND eventName = 'GetObject'
  AND requestParameters LIKE '%BUCKET_NAME%'
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
GROUP BY DATE_TRUNC('hour', from_iso8601_timestamp(eventTime)), userIdentity.arn
HAVING COUNT(*) > 100
ORDER BY hour_bucket ASC;""",
        lambda d: (
            d.group(
                [lambda r: hour(r["eventTime"]), "useridentity.arn", count_star()],
                lambda r: (
                    src(r) == "s3.amazonaws.com"
                    and name(r) == "GetObject"
                    and on_bucket(d)(r)
                    and window(d)(r)
                ),
            )
            .having(lambda row: row[2] > 100)
            .order_by(0)
        ),
        fill=BUCKET_WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-data-access.sql #5
    Case(
        "ir-data-secrets-access",
        """SELECT eventTime, eventName, sourceIPAddress, userIdentity.arn,
       requestParameters
FROM cloudtrail_logs
WHERE eventSource IN ('secretsmanager.amazonaws.com', 'ssm.amazonaws.com')
  AND eventName IN ('GetSecretValue', 'GetParameter', 'GetParameters',
                    'GetParametersByPath')
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            ["eventtime", "eventname", "sourceipaddress", "useridentity.arn", "requestparameters"],
            lambda r: (
                src(r) in {"secretsmanager.amazonaws.com", "ssm.amazonaws.com"}
                and name(r)
                in {"GetSecretValue", "GetParameter", "GetParameters", "GetParametersByPath"}
                and window(d)(r)
            ),
        ).order_by(0),
        fill=WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-data-access.sql #6
    Case(
        "ir-data-readers-of-bucket",
        """SELECT userIdentity.arn, sourceIPAddress, COUNT(*) as read_count,
       MIN(eventTime) as first_access, MAX(eventTime) as last_access
FROM cloudtrail_logs
WHERE eventSource = 's3.amazonaws.com'
  AND eventName = 'GetObject'
  AND requestParameters LIKE '%BUCKET_NAME%'
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
GROUP BY userIdentity.arn, sourceIPAddress
ORDER BY read_count DESC;""",
        lambda d: d.group(
            [
                "useridentity.arn",
                "sourceipaddress",
                count_star(),
                min_of("eventtime"),
                max_of("eventtime"),
            ],
            lambda r: (
                src(r) == "s3.amazonaws.com"
                and name(r) == "GetObject"
                and on_bucket(d)(r)
                and window(d)(r)
            ),
        ).order_by((2, DESC)),
        fill=BUCKET_WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-data-access.sql #8
    Case(
        "ir-data-objects-read",
        """SELECT eventTime, json_extract_scalar(requestParameters, '$.key') as object_key,
       sourceIPAddress, userIdentity.arn
FROM cloudtrail_logs
WHERE eventSource = 's3.amazonaws.com'
  AND eventName = 'GetObject'
  AND requestParameters LIKE '%BUCKET_NAME%'
  AND userIdentity.arn = 'SUSPECT_PRINCIPAL'
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            [
                "eventtime",
                lambda r: json_scalar(r, "requestparameters", "$.key"),
                "sourceipaddress",
                "useridentity.arn",
            ],
            lambda r: (
                src(r) == "s3.amazonaws.com"
                and name(r) == "GetObject"
                and on_bucket(d)(r)
                and arn_of(r) == d.values["s3_reader"]
                and window(d)(r)
            ),
        ).order_by(0),
        fill={**BUCKET_WINDOW, **SUSPECT_WINDOW},
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-data-access.sql #9
    Case(
        "ir-data-bucket-acl-changes",
        """SELECT eventTime, eventName, userIdentity.arn, sourceIPAddress,
       requestParameters
FROM cloudtrail_logs
WHERE eventSource = 's3.amazonaws.com'
  AND eventName IN ('PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketAcl',
                    'PutObjectAcl', 'PutBucketPublicAccessBlock',
                    'DeleteBucketPublicAccessBlock')
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            ["eventtime", "eventname", "useridentity.arn", "sourceipaddress", "requestparameters"],
            lambda r: (
                src(r) == "s3.amazonaws.com"
                and name(r)
                in {
                    "PutBucketPolicy",
                    "DeleteBucketPolicy",
                    "PutBucketAcl",
                    "PutObjectAcl",
                    "PutBucketPublicAccessBlock",
                    "DeleteBucketPublicAccessBlock",
                }
                and window(d)(r)
            ),
        ).order_by(0),
        fill=WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-data-access.sql #11
    Case(
        "ir-data-other-buckets",
        """SELECT DISTINCT json_extract_scalar(requestParameters, '$.bucketName') as bucket_accessed
FROM cloudtrail_logs
WHERE userIdentity.arn = 'SUSPECT_PRINCIPAL'
  AND eventSource = 's3.amazonaws.com'
  AND eventName = 'GetObject'
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME';""",
        lambda d: Answer(
            [
                (b,)
                for b in {
                    json_scalar(r, "requestparameters", "$.bucketName")
                    for r in d.where(
                        lambda r: (
                            arn_of(r) == d.values["s3_reader"]
                            and src(r) == "s3.amazonaws.com"
                            and name(r) == "GetObject"
                            and window(d)(r)
                        )
                    )
                }
            ]
        ),
        fill=SUSPECT_WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-data-access.sql #12
    Case(
        "ir-data-copies-by-suspect",
        """SELECT eventTime, eventName, requestParameters
FROM cloudtrail_logs
WHERE userIdentity.arn = 'SUSPECT_PRINCIPAL'
  AND eventName IN ('CopyObject', 'PutObject', 'CreateSnapshot',
                    'CopySnapshot', 'ShareSnapshot')
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            ["eventtime", "eventname", "requestparameters"],
            lambda r: (
                arn_of(r) == d.values["s3_reader"]
                and name(r)
                in {"CopyObject", "PutObject", "CreateSnapshot", "CopySnapshot", "ShareSnapshot"}
                and window(d)(r)
            ),
        ).order_by(0),
        fill=SUSPECT_WINDOW,
    ),
    # --- AWS incident-response playbooks: personal data breach
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-personal-data-breach.sql 1.2 (field access on JSON)
    Case(
        "ir-pdb-cross-account-access",
        """SELECT eventTime, userIdentity.arn AS accessor,
       userIdentity.accountId AS accessor_account,
       requestParameters.bucketName AS bucket,
       requestParameters.key AS object_key,
       sourceIPAddress,
       additionalEventData.bytesTransferredOut AS bytes_out
FROM cloudtrail_logs
WHERE eventSource = 's3.amazonaws.com'
  AND eventName = 'GetObject'
  AND requestParameters.bucketName = 'customer-pii-bucket'
  AND userIdentity.accountId != '123456789012'  -- Replace with bucket owner account
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
  AND errorCode IS NULL
ORDER BY eventTime ASC;""",
        lambda d: Raises(SqlError, "json_extract_scalar"),
        fill=WINDOW,
    ),
    # --- AWS incident-response playbooks: ransomware
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-ransomware.sql #1
    Case(
        "ir-ransom-kms-by-suspect",
        """SELECT eventTime, eventName, userIdentity.arn, awsRegion,
       requestParameters, responseElements, sourceIPAddress
FROM cloudtrail_logs
WHERE userIdentity.arn LIKE '%SUSPECTED_PRINCIPAL%'
  AND eventSource = 'kms.amazonaws.com'
  AND eventName IN ('CreateKey', 'CreateGrant', 'Encrypt', 'ReEncryptFrom',
                    'ReEncryptTo', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext',
                    'ScheduleKeyDeletion', 'DisableKey', 'PutKeyPolicy')
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            [
                "eventtime",
                "eventname",
                "useridentity.arn",
                "awsregion",
                "requestparameters",
                "responseelements",
                "sourceipaddress",
            ],
            lambda r: (
                like(arn_of(r), f"%{d.values['kms_principal']}%")
                and src(r) == "kms.amazonaws.com"
                and name(r)
                in {
                    "CreateKey",
                    "CreateGrant",
                    "Encrypt",
                    "ReEncryptFrom",
                    "ReEncryptTo",
                    "GenerateDataKey",
                    "GenerateDataKeyWithoutPlaintext",
                    "ScheduleKeyDeletion",
                    "DisableKey",
                    "PutKeyPolicy",
                }
                and window(d)(r)
            ),
        ).order_by(0),
        fill={"SUSPECTED_PRINCIPAL": "{kms_principal}", **WINDOW},
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-ransomware.sql #2
    Case(
        "ir-ransom-bulk-deletion",
        """SELECT eventTime, eventSource, eventName, userIdentity.arn,
       requestParameters, sourceIPAddress, awsRegion
FROM cloudtrail_logs
WHERE eventName IN ('DeleteObject', 'DeleteObjects', 'DeleteSnapshot',
                    'DeleteDBSnapshot', 'DeleteDBClusterSnapshot',
                    'DeleteRecoveryPoint', 'DeleteBackupVault',
                    'PutBucketVersioning', 'DeleteBucketPolicy')
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            [
                "eventtime",
                "eventsource",
                "eventname",
                "useridentity.arn",
                "requestparameters",
                "sourceipaddress",
                "awsregion",
            ],
            lambda r: (
                name(r)
                in {
                    "DeleteObject",
                    "DeleteObjects",
                    "DeleteSnapshot",
                    "DeleteDBSnapshot",
                    "DeleteDBClusterSnapshot",
                    "DeleteRecoveryPoint",
                    "DeleteBackupVault",
                    "PutBucketVersioning",
                    "DeleteBucketPolicy",
                }
                and window(d)(r)
            ),
        ).order_by(0),
        fill=WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-ransomware.sql #4
    Case(
        "ir-ransom-versioning-and-lock",
        """SELECT eventTime, eventName, userIdentity.arn,
       requestParameters, sourceIPAddress
FROM cloudtrail_logs
WHERE eventSource = 's3.amazonaws.com'
  AND eventName IN ('PutBucketVersioning', 'PutObjectLockConfiguration',
                    'PutBucketLifecycleConfiguration', 'DeleteBucketPolicy',
                    'PutBucketPolicy')
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            ["eventtime", "eventname", "useridentity.arn", "requestparameters", "sourceipaddress"],
            lambda r: (
                src(r) == "s3.amazonaws.com"
                and name(r)
                in {
                    "PutBucketVersioning",
                    "PutObjectLockConfiguration",
                    "PutBucketLifecycleConfiguration",
                    "DeleteBucketPolicy",
                    "PutBucketPolicy",
                }
                and window(d)(r)
            ),
        ).order_by(0),
        fill=WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-ransomware.sql #6 (HAVING on a SELECT alias)
    Case(
        "ir-ransom-delete-volume",
        """SELECT eventSource, eventName, userIdentity.arn,
       COUNT(*) as call_count, MIN(eventTime) as first_seen, MAX(eventTime) as last_seen
FROM cloudtrail_logs
WHERE eventName LIKE 'Delete%'
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
GROUP BY eventSource, eventName, userIdentity.arn
HAVING call_count > 10
ORDER BY call_count DESC;""",
        # Trino resolves HAVING against the FROM columns: "Column 'call_count' cannot be
        # resolved".
        lambda d: Raises(SqlError, "call_count"),
        fill=WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-ransomware.sql #7
    Case(
        "ir-ransom-versioning-changes",
        """SELECT eventTime, userIdentity.arn, requestParameters, sourceIPAddress
FROM cloudtrail_logs
WHERE eventSource = 's3.amazonaws.com'
  AND eventName = 'PutBucketVersioning'
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            ["eventtime", "useridentity.arn", "requestparameters", "sourceipaddress"],
            lambda r: (
                src(r) == "s3.amazonaws.com" and name(r) == "PutBucketVersioning" and window(d)(r)
            ),
        ).order_by(0),
        fill=WINDOW,
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41
    #   playbooks/resources/athena-queries-ransomware.sql #8
    Case(
        "ir-ransom-snapshot-sharing",
        """SELECT eventTime, eventName, userIdentity.arn, requestParameters, responseElements
FROM cloudtrail_logs
WHERE eventName IN ('ModifySnapshotAttribute', 'ModifyDBSnapshotAttribute',
                    'ModifyDBClusterSnapshotAttribute')
  AND eventTime BETWEEN 'START_TIME' AND 'END_TIME'
ORDER BY eventTime ASC;""",
        lambda d: d.select(
            ["eventtime", "eventname", "useridentity.arn", "requestparameters", "responseelements"],
            lambda r: (
                name(r)
                in {
                    "ModifySnapshotAttribute",
                    "ModifyDBSnapshotAttribute",
                    "ModifyDBClusterSnapshotAttribute",
                }
                and window(d)(r)
            ),
        ).order_by(0),
        fill=WINDOW,
    ),
    # --- AWS incident-response playbooks, GuardDuty and AgentCore playbooks (markdown)
    # source: aws-samples/aws-incident-response-playbooks@ac15f41 playbooks/Amazon GuardDuty
    #   Playbooks/EKS Findings/IRP-GD-SuccessfulAnonymousAccess-Kubernetes.md
    Case(
        "ir-gd-eks-principal-activity",
        """select eventname, count(*) as total, eventsource, awsregion, errormessage
from cloudtrail_logs
where useridentity.principalid = 'AROA…'
group by eventname, eventsource, awsregion, errormessage
order by total desc;""",
        lambda d: (
            d.group(
                ["eventname", count_star(), "eventsource", "awsregion", "errormessage"],
                lambda r: value(r, "useridentity.principalid") == d.values["principal_id"],
            )
            .order_by((1, DESC))
            .named("eventname", "total", "eventsource", "awsregion", "errormessage")
        ),
        fill={"AROA…": "{principal_id}"},
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41 playbooks/Amazon GuardDuty
    #   Playbooks/EKS Findings/IRP-GD-SuccessfulAnonymousAccess-Kubernetes.md (user)
    Case(
        "ir-gd-eks-user-activity",
        """select eventname, useridentity.username, sourceIPAddress, eventtime, requestparameters from cloudtrail_logs
where (useridentity.username like '%ExampleUser%')
and eventtime > '2017-06-01T00:00:00Z'
and (eventname not like '%Describe%' AND eventname not like '%List%')
order by eventtime asc;""",  # noqa: E501
        lambda d: d.select(
            [
                "eventname",
                "useridentity.username",
                "sourceipaddress",
                "eventtime",
                "requestparameters",
            ],
            lambda r: (
                like(value(r, "useridentity.username"), f"%{d.values['username']}%")
                and r["eventTime"] > "2017-06-01T00:00:00Z"
                and not like(name(r), "%Describe%")
                and not like(name(r), "%List%")
            ),
        ).order_by(3),
        fill={"ExampleUser": "{username}"},
    ),
    # source: aws-samples/aws-incident-response-playbooks@ac15f41 playbooks/Amazon Bedrock AgentCore
    #   Playbooks/IRP-AgentCoreObservabilityTampering.md (field access on JSON)
    Case(
        "ir-agentcore-assume-eval-role",
        """SELECT eventTime, sourceIPAddress, userIdentity.arn AS assuming_principal
FROM cloudtrail_logs
WHERE eventSource = 'sts.amazonaws.com'
  AND eventName = 'AssumeRole'
  AND requestParameters.roleArn = 'EVAL_IAM_ROLE_ARN'
ORDER BY eventTime ASC;""",
        lambda d: Raises(SqlError, "json_extract_scalar"),
    ),
    # --- easttimor/aws-incident-response (README.md), tables per account by the
    # CloudTrail Partitioner (region, year, month, day)
    # source: easttimor/aws-incident-response@954ded8 README.md 'API Errors' (no WHERE before AND: a
    #   syntax error)
    Case(
        "easttimor-api-errors",
        """select eventTime, eventSource, eventName, errorCode, errorMessage, responseElements, awsRegion, userIdentity.arn, sourceIPAddress, userAgent
from cloudtrail_000000000000
and year = '####' and month = '##'
and errorCode in ('Client.UnauthorizedOperation','Client.InvalidPermission.NotFound','Client.OperationNotPermitted','AccessDenied')
order by eventTime desc
limit 25""",  # noqa: E501
        lambda d: Raises(SqlError),
        table="cloudtrail_000000000000",
    ),
    # source: easttimor/aws-incident-response@954ded8 README.md 'Creation of IAM Principals'
    #   (misspelt column evenname)
    Case(
        "easttimor-creation-of-principals",
        """select useridentity.principalId, eventname, count(*) as total
from cloudtrail_000000000000
where year = '####' and month = '##' and day = '##'
and eventsource = 'iam.amazonaws.com'
and evenname in ('CreateUser','CreateRole','CreateServiceLinkedRole')""",
        lambda d: Raises(SqlError),
        table="cloudtrail_000000000000",
        fill=MANUAL_DAY,
    ),
    # source: easttimor/aws-incident-response@954ded8 README.md 'Find the IAM Principal and AWS
    #   Account associated with Access Key'
    Case(
        "easttimor-key-owner",
        """select useridentity.principalId, useridentity.arn, useridentity.accountId, region
from cloudtrail_000000000000
where year = '####' and month = '##'
and useridentity.accesskeyid = 'AKIAxxxxxxxxxxxxxxxx'
limit 1""",
        lambda d: d.select(
            [
                "useridentity.principalid",
                "useridentity.arn",
                "useridentity.accountid",
                "awsregion",
            ],
            lambda r: partition(d, r, day=False) and key_is(d)(r),
        ).top(1),
        table="cloudtrail_000000000000",
        fill={**MANUAL_MONTH, "AKIAxxxxxxxxxxxxxxxx": "{access_key}"},
        layout="aws-manual",
    ),
    # source: easttimor/aws-incident-response@954ded8 README.md 'Most common error codes'
    Case(
        "easttimor-common-error-codes",
        """select errorcode, count(errorcode) as total
from cloudtrail_000000000000
where year = '####' and month = '##' and day = '##'
group by errorcode
order by total desc""",
        lambda d: d.group(["errorcode", count("errorcode")], lambda r: partition(d, r)).order_by(
            (1, DESC)
        ),
        table="cloudtrail_000000000000",
        fill=MANUAL_DAY,
        layout="aws-manual",
    ),
    # source: easttimor/aws-incident-response@954ded8 README.md 'All EC2 Instance Profiles - most
    #   denied instance profiles'
    Case(
        "easttimor-denied-instance-profiles",
        """select useridentity.principalid, count(*) as total
from cloudtrail_000000000000
where year = '####' and month = '##' and day = '##'
and useridentity.principalid like '%:i-%'
and errorcode = 'AccessDenied'
group by useridentity.principalid
order by total desc
limit 25""",
        lambda d: (
            d.group(
                ["useridentity.principalid", count_star()],
                lambda r: (
                    partition(d, r)
                    and like(value(r, "useridentity.principalid"), "%:i-%")
                    and r.get("errorCode") == "AccessDenied"
                ),
            )
            .order_by((1, DESC))
            .top(25)
        ),
        table="cloudtrail_000000000000",
        fill=MANUAL_DAY,
        layout="aws-manual",
    ),
    # source: easttimor/aws-incident-response@954ded8 README.md 'Modify UserData'
    Case(
        "easttimor-modify-userdata",
        """select *
from cloudtrail_000000000000
where year = '####' and month = '##' and day = '##'
and eventname = 'ModifyInstanceAttribute'
and requestParameters like '%userData%'""",
        lambda d: d.select(
            ["eventid"],
            lambda r: (
                partition(d, r)
                and name(r) == "ModifyInstanceAttribute"
                and like(text(r, "requestparameters"), "%userData%")
            ),
        ).compare("eventid"),
        table="cloudtrail_000000000000",
        fill=MANUAL_DAY,
        layout="aws-manual",
    ),
    # --- AWS incident-response playbooks workshop: its own partition columns
    # (aws-samples/aws-incident-response-playbooks-workshop@c996d4c
    #  analytics/cloudtrail/cloudtrail_demo_queries.sql)
    # source: aws-samples/aws-incident-response-playbooks-workshop@c996d4c
    #   analytics/cloudtrail/cloudtrail_demo_queries.sql 'Summary of event counts by Region'
    Case(
        "ir-workshop-region-summary",
        """SELECT region_partition, count(*) as eventcount FROM "irworkshopgluedatabase"."irworkshopgluetablecloudtrail"
WHERE date_partition >= '2021/07/01'
AND date_partition <= '2021/07/31'
AND account_partition = '111122223333'
AND region_partition in ('us-east-1','us-east-2','us-west-2', 'us-west-2')
GROUP BY region_partition
ORDER BY eventcount DESC""",  # noqa: E501
        # The workshop's table has columns no AWS layout (nor ours) has: fail loudly.
        lambda d: Raises(SqlError, "region_partition|date_partition|account_partition"),
        table="irworkshopgluedatabase.irworkshopgluetablecloudtrail",
    ),
    # --- yanzhoushow/aws_incident_responder (README.md), flaws2.cloud defender track
    # source: yanzhoushow/aws_incident_responder@4745d52 README.md 'How many events are there for
    #   each kind of event?'
    Case(
        "flaws2-event-counts",
        """SELECT eventname AS event_name,
           count(*) AS event_count
    FROM flaws2.cloudtrail
    GROUP BY eventname
    ORDER BY event_count DESC""",
        lambda d: (
            d.group(["eventname", count_star()], lambda r: True)
            .order_by((1, DESC))
            .named("event_name", "event_count")
        ),
        table="flaws2.cloudtrail",
    ),
    # source: yanzhoushow/aws_incident_responder@4745d52 README.md 'What percentage of events are
    #   errors?'
    Case(
        "flaws2-error-percentage",
        """SELECT count(*)*100.0/(SELECT count(*) FROM flaws2.cloudtrail) AS event_error_percentage
    FROM flaws2.cloudtrail
    WHERE errorcode IS NOT NULL;""",
        error_percentage,
        table="flaws2.cloudtrail",
    ),
    # source: yanzhoushow/aws_incident_responder@4745d52 README.md 'For each distinct User Identity
    #   Account ID, what is the mean time between'
    Case(
        "flaws2-mean-interval",
        """WITH events AS
      (SELECT useridentity.accountid AS account_id,
              min(eventtime) OVER (PARTITION BY useridentity.accountid) AS min_event_timestamp,
              max(eventtime) OVER (PARTITION BY useridentity.accountid) AS max_event_timestamp,
              count(*) OVER (PARTITION BY useridentity.accountid) AS event_count
      FROM flaws2.cloudtrail
      WHERE useridentity.accountid IS NOT NULL)
    SELECT DISTINCT account_id,
          DATE_DIFF('second', from_iso8601_timestamp(min_event_timestamp), from_iso8601_timestamp(max_event_timestamp))*1.0/(event_count-1) AS mean_interval_in_second
    FROM events""",  # noqa: E501
        mean_interval,
        table="flaws2.cloudtrail",
    ),
    # --- 0xdeadbeefJERKY, "CloudGoat Vulnerable Lambda Scenario - Part 2 (Response)", table
    # made with partition projection (`timestamp`)
    # source: 0xdeadbeefJERKY/0xdeadbeefjerky.github.io@02d08fb
    #   _posts/2023-03-03-cloudgoat-lambda-walkthrough-part-2.md (initial GetSecretValue event)
    Case(
        "cloudgoat-initial-event",
        """select eventtime, useridentity, eventsource, eventname, awsregion, sourceipaddress, useragent, requestparameters, tlsdetails
from cloudtrail_logs_pp
where eventname = 'GetSecretValue'
and timestamp = '2023/03/28'
and sourceipaddress = '1.2.3.4'
and json_extract_scalar(requestparameters, '$.secretId') = 'vulnerable_lambda_cgid13u1qpdipe-final_flag'""",  # noqa: E501
        lambda d: d.select(
            ["eventtime", "eventsource", "eventname", "awsregion", "sourceipaddress"],
            lambda r: (
                name(r) == "GetSecretValue"
                and r["eventTime"][:10].replace("-", "/") == d.values["secret_day"]
                and value(r, "sourceipaddress") == d.values["secret_ip"]
                and json_scalar(r, "requestparameters", "$.secretId") == d.values["secret_id"]
            ),
        ).compare("eventtime", "eventsource", "eventname", "awsregion", "sourceipaddress"),
        table="cloudtrail_logs_pp",
        fill={
            "'2023/03/28'": "'{secret_day}'",
            "'1.2.3.4'": "'{secret_ip}'",
            "vulnerable_lambda_cgid13u1qpdipe-final_flag": "{secret_id}",
        },
        layout="aws-projection",
    ),
    # source: 0xdeadbeefJERKY/0xdeadbeefjerky.github.io@02d08fb
    #   _posts/2023-03-03-cloudgoat-lambda-walkthrough-part-2.md (pivot on the access key)
    Case(
        "cloudgoat-key-from-ip",
        """select eventtime, sourceipaddress, useridentity.username, eventsource, eventname
from cloudtrail_logs_pp
where useridentity.accesskeyid = 'AKIAREDACTED'
and sourceipaddress = '1.2.3.4'
order by eventtime""",
        lambda d: d.select(
            [
                "eventtime",
                "sourceipaddress",
                "useridentity.username",
                "eventsource",
                "eventname",
            ],
            lambda r: key_is(d)(r) and value(r, "sourceipaddress") == d.values["key_ip"],
        ).order_by(0),
        table="cloudtrail_logs_pp",
        fill=KEY_IP,
    ),
    # source: 0xdeadbeefJERKY/0xdeadbeefjerky.github.io@02d08fb
    #   _posts/2023-03-03-cloudgoat-lambda-walkthrough-part-2.md (request parameters of the key's
    #   calls)
    Case(
        "cloudgoat-key-requests",
        """select eventtime, eventname, requestparameters, responseelements
from cloudtrail_logs_pp
where useridentity.accesskeyid = 'AKIAREDACTED'
and sourceipaddress = '1.2.3.4'
order by eventtime""",
        lambda d: d.select(
            ["eventtime", "eventname", "requestparameters", "responseelements"],
            lambda r: key_is(d)(r) and value(r, "sourceipaddress") == d.values["key_ip"],
        ).order_by(0),
        table="cloudtrail_logs_pp",
        fill=KEY_IP,
    ),
    # source: 0xdeadbeefJERKY/0xdeadbeefjerky.github.io@02d08fb
    #   _posts/2023-03-03-cloudgoat-lambda-walkthrough-part-2.md (roles the key assumed)
    Case(
        "cloudgoat-key-assume-role",
        """select eventtime, eventname, requestparameters, responseelements
from cloudtrail_logs_pp
where useridentity.accesskeyid = 'AKIAREDACTED'
and sourceipaddress = '1.2.3.4'
and eventname = 'AssumeRole'
order by eventtime""",
        lambda d: d.select(
            ["eventtime", "eventname", "requestparameters", "responseelements"],
            lambda r: (
                key_is(d)(r)
                and value(r, "sourceipaddress") == d.values["key_ip"]
                and name(r) == "AssumeRole"
            ),
        ).order_by(0),
        table="cloudtrail_logs_pp",
        fill=KEY_IP,
    ),
    # source: ime-cloud-sec-analyst/cloudtrail-athena-analysis-lab@420337d README.md (Sample Query:
    #   security groups created), the table the CloudTrail console names
    Case(
        "ime-lab-create-security-group",
        """SELECT eventTime, eventSource, eventName, userIdentity.username
FROM "default"."cloudtrail_logs_aws_cloudtrail_logs_256576895597_6c6acb12"
WHERE eventName = 'CreateSecurityGroup'
ORDER BY eventTime DESC
LIMIT 10;""",
        lambda d: (
            d.select(
                ["eventtime", "eventsource", "eventname", "useridentity.username"],
                lambda r: name(r) == "CreateSecurityGroup",
            )
            .order_by((0, DESC))
            .top(10)
        ).named("eventtime", "eventsource", "eventname", "username"),
        table="default.cloudtrail_logs_aws_cloudtrail_logs_256576895597_6c6acb12",
    ),
    # --- MindMesh Academy, AWS DevOps Engineer Professional study guide 3.4.3.7
    # https://www.mindmeshacademy.com/certifications/aws/aws-certified-devops-engineer-professional/study-guide/3-4-3-7-analyzing-logs-metrics-and-security-findings
    # source: MindMesh study guide 3.4.3.7: all actions by a potentially compromised user
    Case(
        "mindmesh-compromised-user",
        """SELECT eventtime, eventsource, eventname, sourceipaddress, errorcode
FROM cloudtrail_logs
WHERE useridentity.arn LIKE '%compromised-user%'
AND eventtime > '2025-01-15'
ORDER BY eventtime DESC;""",
        lambda d: d.select(
            ["eventtime", "eventsource", "eventname", "sourceipaddress", "errorcode"],
            lambda r: (
                like(arn_of(r), f"%{d.values['arn_name']}%") and r["eventTime"] > "2025-01-15"
            ),
        ).order_by((0, DESC)),
        fill={"compromised-user": "{arn_name}"},
    ),
    # source: MindMesh study guide 3.4.3.7: security group changes in the last 24 hours
    Case(
        "mindmesh-sg-changes-24h",
        """SELECT eventtime, useridentity.arn, requestparameters
FROM cloudtrail_logs
WHERE eventsource = 'ec2.amazonaws.com'
AND eventname IN ('AuthorizeSecurityGroupIngress','RevokeSecurityGroupIngress')
AND eventtime > current_timestamp - interval '24' hour;""",
        # eventtime is a varchar: Athena refuses `varchar > timestamp with time zone`.
        lambda d: Raises(SqlError, "from_iso8601_timestamp"),
    ),
    # --- jpbarto, "Simple shell script to query AWS CloudTrail for particular actions"
    # https://gist.github.com/jpbarto/3568586ac83422131ec9154e0fb9e377
    # source: gist jpbarto/3568586ac83422131ec9154e0fb9e377 (SageMaker ListNotebookInstances)
    Case(
        "gist-sagemaker-notebooks",
        """SELECT useridentity.arn, eventname, eventsource, awsregion, sourceipaddress, errorcode, eventtime FROM cloudtrail_logs_account_logging WHERE eventsource = 'sagemaker.amazonaws.com' AND eventname in ('ListNotebookInstances') AND eventtime > '2020-04-15' LIMIT 3;""",  # noqa: E501
        lambda d: (
            d.select(
                [
                    "useridentity.arn",
                    "eventname",
                    "eventsource",
                    "awsregion",
                    "sourceipaddress",
                    "errorcode",
                    "eventtime",
                ],
                lambda r: (
                    src(r) == "sagemaker.amazonaws.com"
                    and name(r) == "ListNotebookInstances"
                    and r["eventTime"] > "2020-04-15"
                ),
            )
            .top(3)
            .named(
                "arn",
                "eventname",
                "eventsource",
                "awsregion",
                "sourceipaddress",
                "errorcode",
                "eventtime",
            )
        ),
        table="cloudtrail_logs_account_logging",
    ),
]


def placeholder_values(records: list[Record]) -> dict[str, str]:
    """What a reader would put in each placeholder: values that occur in the data."""
    times = sorted(r["eventTime"] for r in records)
    keys = [value(r, "useridentity.accesskeyid") for r in records]
    # A long-term key, as the playbooks' AKIAIOSFODNN7EXAMPLE, where the data has one.
    access_key = most_common([k for k in keys if k and k.startswith("AKIA")] or keys)
    s3 = [r for r in records if src(r) == "s3.amazonaws.com"]
    reads = [r for r in s3 if name(r) == "GetObject" and arn_of(r)] or s3
    bucket = most_common(json_scalar(r, "requestparameters", "$.bucketName") for r in reads)
    region, date = most_common((r.get("awsRegion"), r["eventTime"][:10]) for r in records)
    secrets = [r for r in records if name(r) == "GetSecretValue"]
    secret_id, secret_ip, secret_day = (
        most_common(
            (
                json_scalar(r, "requestparameters", "$.secretId"),
                value(r, "sourceipaddress"),
                r["eventTime"][:10].replace("-", "/"),
            )
            for r in secrets
        )
        if secrets
        else ("none", "none", "none")
    )
    recent = [r for r in records if r["eventTime"] > "2025-01-15"] or records
    common_arn = most_common(arn_of(r) for r in recent)
    kms_arn = most_common(arn_of(r) for r in records if src(r) == "kms.amazonaws.com")
    return {
        "access_key": access_key,
        "key_ip": most_common(
            value(r, "sourceipaddress")
            for r in records
            if value(r, "useridentity.accesskeyid") == access_key
        ),
        "start": times[len(times) // 20],
        "end": times[len(times) * 19 // 20],
        "bucket": bucket,
        "s3_reader": most_common(
            arn_of(r)
            for r in reads
            if json_scalar(r, "requestparameters", "$.bucketName") == bucket
        ),
        "kms_principal": kms_arn.rsplit("/", 1)[-1],
        "arn_name": common_arn.rsplit("/", 1)[-1],
        "principal_id": most_common(
            value(r, "useridentity.principalid") for r in records if r.get("errorCode")
        ),
        "username": most_common(value(r, "useridentity.username") for r in records),
        "region": region,
        "date": date,
        "year": date[:4],
        "month": date[5:7],
        "day": date[8:10],
        "secret_id": secret_id,
        "secret_ip": secret_ip,
        "secret_day": secret_day,
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    folder = tmp_path_factory.mktemp("corpus-generated")
    generate(folder, events=6000, days=2, seed=23, end="2025-03-01T00:00:00Z")
    records = load_records(folder.rglob("*.json.gz"))
    return Dataset("generated", folder, records, placeholder_values(records))


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    folder = tmp_path_factory.mktemp("corpus-real")
    for file_name in CONFORMING:
        shutil.copy(REAL / file_name, folder / file_name)
    records = load_records(folder.glob("*.json.gz"))
    return Dataset("real", folder, records, placeholder_values(records))


def params(dataset: str) -> list[object]:
    out: list[object] = []
    for case in CASES:
        reason = case.xfail if isinstance(case.xfail, str) else (case.xfail or {}).get(dataset)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def run(case: Case, data: Dataset) -> None:
    database, _, table = case.table.rpartition(".")
    options: dict[str, str] = {"table": table}
    if database:
        options["database"] = database
    if case.layout:
        options[LAYOUT_OPTION] = case.layout
    session = spintrail.connect(data.source, **options)  # type: ignore[arg-type]
    sql = case.query(data.values)
    expected = case.answer(data)
    if isinstance(expected, Raises):
        with pytest.raises(expected.error, match=expected.match):
            session.sql(sql)
        return
    expected.check(session.sql(sql))


@pytest.mark.parametrize("case", params("generated"))
def test_corpus_on_generated_logs(case: Case, generated: Dataset) -> None:
    run(case, generated)


@pytest.mark.parametrize("case", params("real"))
def test_corpus_on_real_logs(case: Case, real: Dataset) -> None:
    run(case, real)


def test_corpus_is_large() -> None:
    assert len(CASES) >= 45
    assert len({case.id for case in CASES}) == len(CASES)


def test_unsupported_function_is_an_sql_error() -> None:
    # The error classes the corpus expects nest as Athena's do: an unknown function is an SQL error.
    assert issubclass(UnsupportedFunctionError, SqlError)
