//! The provisioning clients (one per service, from one SDK configuration) and helpers for the
//! policy documents AWS returns.

pub(crate) use crate::aws::{
    aws_error, code, retry_on, sdk_error, status, tolerate, ConnectOptions,
};
use crate::Result;

pub(crate) struct Clients {
    pub region: String,
    pub sts: aws_sdk_sts::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub athena: aws_sdk_athena::Client,
    pub glue: aws_sdk_glue::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl Clients {
    pub async fn connect(options: &ConnectOptions, region: Option<&str>) -> Result<Self> {
        let (sdk, region) = crate::aws::load(options, region).await?;
        Ok(Clients {
            region,
            sts: crate::aws::sts_client(&sdk),
            s3: crate::aws::s3_client(&sdk, options),
            cloudtrail: crate::aws::cloudtrail_client(&sdk),
            athena: crate::aws::athena_client(&sdk),
            glue: crate::aws::glue_client(&sdk),
            iam: crate::aws::iam_client(&sdk),
            logs: crate::aws::logs_client(&sdk),
        })
    }

    /// The caller's account, from STS GetCallerIdentity.
    pub async fn account_id(&self) -> Result<String> {
        const STEP: &str = "sts:GetCallerIdentity (who am I)";
        let answer = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| sdk_error(STEP, e))?;
        answer
            .account()
            .map(str::to_string)
            .ok_or_else(|| aws_error(STEP, "the answer names no account"))
    }
}

/// Decodes `%XX` escapes (IAM returns policy documents URL-encoded).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a JSON policy document that may be URL-encoded.
pub(crate) fn parse_policy(text: &str) -> Option<serde_json::Value> {
    serde_json::from_str(text)
        .ok()
        .or_else(|| serde_json::from_str(&percent_decode(text)).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_url_encoded_policies() {
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(
            parse_policy("%7B%22a%22%3A1%7D"),
            Some(serde_json::json!({"a": 1}))
        );
    }
}
