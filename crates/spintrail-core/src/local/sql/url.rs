//! Trino's URL functions: `url_extract_host`, `_path`, `_port`, `_protocol`, `_query`,
//! `_fragment`, `_parameter`, and `url_encode` / `url_decode`.
//!
//! A URL is split as an RFC 3986 URI reference (Trino uses `java.net.URI`): text that is not a
//! valid URI gives NULL, a part the URL lacks gives NULL, and parts are returned as written
//! (not percent-decoded).

use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array, StringBuilder};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

use super::args::{arrays, finish, lenient_or, string_array};

/// Which part of a URL a `url_extract_*` function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Host,
    Path,
    Port,
    Protocol,
    Query,
    Fragment,
}

/// The parts of a URI reference.
#[derive(Debug, Default, PartialEq)]
struct Url<'a> {
    scheme: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<i64>,
    path: Option<&'a str>,
    query: Option<&'a str>,
    fragment: Option<&'a str>,
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn parse(text: &str) -> Option<Url<'_>> {
    // Characters a URI never contains unescaped (java.net.URI rejects them).
    if text.is_empty()
        || text.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
        })
    {
        return None;
    }
    let mut url = Url::default();
    let (rest, fragment) = match text.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (text, None),
    };
    url.fragment = fragment;
    let mut rest = rest;
    if let Some((scheme, after)) = rest.split_once(':') {
        if is_scheme(scheme) && !scheme.contains(['/', '?']) {
            url.scheme = Some(scheme);
            rest = after;
            if !rest.starts_with('/') {
                // An opaque URI (`mailto:a@b`): no host, path or query.
                return if rest.is_empty() { None } else { Some(url) };
            }
        }
    }
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    url.query = query;
    let mut path = before_query;
    if let Some(after) = before_query.strip_prefix("//") {
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        path = &after[end..];
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = if host_port.starts_with('[') {
            let close = host_port.find(']')?;
            let (h, p) = host_port.split_at(close + 1);
            (h, p.strip_prefix(':'))
        } else {
            match host_port.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (host_port, None),
            }
        };
        if let Some(p) = port.filter(|p| !p.is_empty()) {
            if !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            url.port = Some(p.parse().ok()?);
        }
        url.host = (!host.is_empty()).then_some(host);
    }
    url.path = Some(path);
    Some(url)
}

/// `url_extract_<part>(url)`.
pub fn extract(args: &ScalarFunctionArgs, part: Part) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let urls = string_array(&a.arrays[0])?;
    if part == Part::Port {
        let ports: Int64Array = urls
            .iter()
            .map(|u| u.and_then(parse).and_then(|u| u.port))
            .collect();
        return finish(Arc::new(ports), a.all_scalar);
    }
    let mut out = StringBuilder::with_capacity(a.len, 0);
    for u in urls.iter() {
        let value = u.and_then(parse).and_then(|u| match part {
            Part::Host => u.host,
            Part::Path => u.path,
            Part::Protocol => u.scheme,
            Part::Query => u.query,
            Part::Fragment => u.fragment,
            Part::Port => None,
        });
        out.append_option(value);
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// `url_extract_parameter(url, name)`: the first value of the query parameter `name`
/// (`''` when it has no `=`), NULL when absent.
pub fn extract_parameter(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let urls = string_array(&a.arrays[0])?;
    let names = string_array(&a.arrays[1])?;
    let mut out = StringBuilder::with_capacity(a.len, 0);
    for i in 0..a.len {
        if urls.is_null(i) || names.is_null(i) {
            out.append_null();
            continue;
        }
        let name = names.value(i);
        let value = parse(urls.value(i)).and_then(|u| u.query).and_then(|q| {
            q.split('&').find_map(|pair| match pair.split_once('=') {
                Some((k, v)) if k == name => Some(v),
                None if pair == name => Some(""),
                _ => None,
            })
        });
        out.append_option(value);
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// `url_encode(value)`: `application/x-www-form-urlencoded` escaping (space → `+`).
pub fn encode(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let values = string_array(&a.arrays[0])?;
    let mut out = StringBuilder::with_capacity(a.len, 0);
    let mut buf = String::new();
    for v in values.iter() {
        let Some(v) = v else {
            out.append_null();
            continue;
        };
        buf.clear();
        for b in v.bytes() {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                    buf.push(b as char)
                }
                b' ' => buf.push('+'),
                other => buf.push_str(&format!("%{other:02X}")),
            }
        }
        out.append_value(&buf);
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

fn decode_text(v: &str) -> Result<String, String> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("url_decode: '{v}' has an invalid % escape"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("url_decode: '{v}' does not decode to UTF-8 text"))
}

/// `url_decode(value)`: the inverse of `url_encode`; a malformed escape is an error.
pub fn decode(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let values = string_array(&a.arrays[0])?;
    let mut out = StringBuilder::with_capacity(a.len, 0);
    for v in values.iter() {
        let decoded = match v {
            None => None,
            Some(v) => lenient_or(decode_text(v).map(Some), lenient)?,
        };
        out.append_option(decoded);
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        let u = parse("https://user@sts.amazonaws.com:8443/a/b?Action=AssumeRole&x#frag");
        assert_eq!(
            u,
            Some(Url {
                scheme: Some("https"),
                host: Some("sts.amazonaws.com"),
                port: Some(8443),
                path: Some("/a/b"),
                query: Some("Action=AssumeRole&x"),
                fragment: Some("frag"),
            })
        );
        let u = parse("http://[::1]/x");
        assert_eq!(u.and_then(|u| u.host), Some("[::1]"));
        assert_eq!(parse("not a url"), None);
        let relative = parse("example.com/path");
        assert_eq!(relative.as_ref().and_then(|u| u.host), None);
        assert_eq!(relative.and_then(|u| u.path), Some("example.com/path"));
        assert_eq!(parse("mailto:a@b").and_then(|u| u.path), None);
    }

    #[test]
    fn decoding() {
        assert_eq!(decode_text("a+b%2Fc"), Ok("a b/c".into()));
        assert!(decode_text("%zz").is_err());
    }
}
