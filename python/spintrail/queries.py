"""Ready-made Spinnaker questions as Athena-dialect SQL text.

Each function returns query text that runs unchanged on the embedded engine and on Athena.
Values are checked before they go into the text (account ids, role names, hours), so a
caller cannot inject SQL through them.

:mod:`spintrail.spinnaker` is the fuller query pack: time windows, configurable recognition of
Spinnaker with bound parameters, rates, attribution and suggested clouddriver rate limits.
"""

from __future__ import annotations

import re

from spintrail.errors import InvalidArgumentError
from spintrail.spinnaker import THROTTLING_CODES

#: The role Spinnaker assumes in the accounts it manages, as in the reference query.
DEFAULT_ROLE = "SpinnakerManagedCA"
DEFAULT_ACCOUNT = "123456789012"

_ROLE = re.compile(r"^[\w+=,.@-]{1,64}$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _role(role: str) -> str:
    if not _ROLE.match(role):
        raise InvalidArgumentError(f"{role!r} is not a valid IAM role name")
    return role


def _account(account: str) -> str:
    if not _ACCOUNT.match(account):
        raise InvalidArgumentError(f"{account!r} is not a 12-digit AWS account id")
    return account


def _hours(hours: int) -> int:
    if not isinstance(hours, int) or hours < 1:
        raise InvalidArgumentError(f"hours must be a positive whole number, not {hours!r}")
    return hours


def _table(table: str) -> str:
    if not re.match(r'^("?\w+"?\.)?"?\w+"?$', table):
        raise InvalidArgumentError(f"{table!r} is not a table name")
    return table


def spinnaker_filter(role: str = DEFAULT_ROLE) -> str:
    """A WHERE condition for the API calls Spinnaker makes through its managed role."""
    return (
        f"(useridentity.sessioncontext.sessionissuer.username = '{_role(role)}' "
        "OR useragent LIKE '%spinnaker%')"
    )


def throttled_condition() -> str:
    codes = ", ".join(f"'{c}'" for c in THROTTLING_CODES)
    return f"errorcode IN ({codes})"


def reference(
    account: str = DEFAULT_ACCOUNT,
    role: str = DEFAULT_ROLE,
    hours: int = 1,
    table: str = '"default"."cloudtrail_logs"',
) -> str:
    """The query Spinnaker operators run on Athena: the role's calls and errors, recent hours."""
    arn = f"arn:aws:sts::{_account(account)}:assumed-role/{_role(role)}/Spinnaker"
    return f"""SELECT count(*) AS Total, eventname, errorcode, errormessage
FROM {_table(table)}
WHERE useridentity.arn = '{arn}'
        AND from_iso8601_timestamp(eventtime) > date_add('hour', -{_hours(hours)}, now())
GROUP BY  eventname, errorcode, errormessage
ORDER BY  Total desc"""


def calls_by_api(role: str = DEFAULT_ROLE, limit: int = 20, table: str = "cloudtrail_logs") -> str:
    """Spinnaker's API calls by service and API, with error and throttling counts."""
    return f"""SELECT eventsource, eventname,
       count(*) AS calls,
       count_if(errorcode IS NOT NULL) AS errors,
       count_if({throttled_condition()}) AS throttled
FROM {_table(table)}
WHERE {spinnaker_filter(role)}
GROUP BY eventsource, eventname
ORDER BY calls DESC
LIMIT {int(limit)}"""


def throttling_by_hour(role: str = DEFAULT_ROLE, table: str = "cloudtrail_logs") -> str:
    """Throttled calls per hour, service, API and region: where Spinnaker hits AWS limits."""
    return f"""SELECT date_trunc('hour', from_iso8601_timestamp(eventtime)) AS hour,
       eventsource, eventname, awsregion, errorcode,
       count(*) AS throttled
FROM {_table(table)}
WHERE {spinnaker_filter(role)} AND {throttled_condition()}
GROUP BY 1, 2, 3, 4, 5
ORDER BY hour, throttled DESC"""


def throttling_timeline(role: str = DEFAULT_ROLE, table: str = "cloudtrail_logs") -> str:
    """Spinnaker's calls and throttled calls per hour: the spikes at a glance."""
    return f"""SELECT date_trunc('hour', from_iso8601_timestamp(eventtime)) AS hour,
       count(*) AS calls,
       count_if({throttled_condition()}) AS throttled,
       round(100 * CAST(count_if({throttled_condition()}) AS double) / count(*), 1) AS throttled_pct
FROM {_table(table)}
WHERE {spinnaker_filter(role)}
GROUP BY 1
ORDER BY 1"""


def spinnaker_share(role: str = DEFAULT_ROLE, table: str = "cloudtrail_logs") -> str:
    """Spinnaker's share of the account's API calls and of its throttling, per account/region."""
    return f"""SELECT recipientaccountid AS account, awsregion AS region,
       count(*) AS calls,
       count_if({spinnaker_filter(role)}) AS spinnaker_calls,
       round(100 * CAST(count_if({spinnaker_filter(role)}) AS double) / count(*), 1)
           AS spinnaker_pct,
       count_if({throttled_condition()}) AS throttled,
       count_if({throttled_condition()} AND {spinnaker_filter(role)}) AS spinnaker_throttled
FROM {_table(table)}
GROUP BY 1, 2
ORDER BY calls DESC"""


def errors(role: str = DEFAULT_ROLE, table: str = "cloudtrail_logs") -> str:
    """Spinnaker's errors by code and API."""
    return f"""SELECT errorcode, eventsource, eventname, count(*) AS n,
       arbitrary(errormessage) AS example_message
FROM {_table(table)}
WHERE {spinnaker_filter(role)} AND errorcode IS NOT NULL
GROUP BY errorcode, eventsource, eventname
ORDER BY n DESC"""


def pipeline_attribution(table: str = "cloudtrail_logs") -> str:
    """Mutating calls per pipeline execution and Spinnaker user (needs Spinnaker's
    ``aws.client.addSpinnakerUserToUserAgent=true``)."""
    return f"""SELECT regexp_extract(useragent, 'spinnaker-executionId/(\\S+)', 1) AS execution_id,
       regexp_extract(useragent, 'spinnaker-user/(\\S+)', 1) AS spinnaker_user,
       count(*) AS calls,
       count_if(errorcode IS NOT NULL) AS errors,
       min(eventtime) AS first_call,
       max(eventtime) AS last_call
FROM {_table(table)}
WHERE regexp_like(useragent, 'spinnaker-executionId/')
GROUP BY 1, 2
ORDER BY first_call DESC"""
