//! The AWS connection arguments every class and function of the binding takes (`endpoint_url`,
//! `profile`, `max_attempts`), as the core's [`ConnectOptions`].

use spintrail_core::aws::ConnectOptions;

/// The core's defaults with the caller's endpoint, profile and attempts (when given).
pub(crate) fn connect_options(
    endpoint_url: Option<String>,
    profile: Option<String>,
    max_attempts: Option<u32>,
) -> ConnectOptions {
    let defaults = ConnectOptions::default();
    ConnectOptions {
        endpoint_url,
        profile,
        max_attempts: max_attempts.unwrap_or(defaults.max_attempts),
        ..defaults
    }
}
