//! The one rule for timestamps written as text, shared by the log reader (`eventTime`), Trino's
//! `from_iso8601_timestamp` / `from_iso8601_date` on the local engine, and the `eventtime` bounds
//! that prune files. Because the reader and the SQL functions call the same parser, a record the
//! table admits can never make `from_iso8601_timestamp(eventtime)` fail.
//!
//! The rule, for both forms: the calendar is the proleptic Gregorian one (no 2024-02-30, no
//! 2023-02-29), hours are 00–23, minutes and seconds 00–59 (no leap second 60, which Trino rejects
//! too), a fraction of a second has 1 to 9 digits, an offset is at most ±18:00.
//!
//! - [`Form::EventTime`], what CloudTrail writes in `eventTime`: exactly
//!   `yyyy-MM-ddTHH:mm:ssZ`, optionally with a fraction (`…:21.123Z`). It must be UTC, with `Z`:
//!   `eventtime` is a STRING column compared as text (as on Athena), and text order is time order
//!   only when every value has the same layout and zone; the date of a flat file's `day`
//!   partition is also read from the text. No surrounding white space.
//! - [`Form::Iso8601`], what `from_iso8601_timestamp` takes (Trino's forms): `yyyy`, `yyyy-MM` or
//!   `yyyy-MM-dd`, optionally followed by `THH`, `THH:mm` or `THH:mm:ss[.f|,f]` and a zone `Z`,
//!   `±hh`, `±hhmm` or `±hh:mm`; no zone means UTC (the local engine's session zone). Surrounding
//!   white space is ignored. Every [`Form::EventTime`] value is accepted here, with the same instant.

use std::fmt;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Which written forms a timestamp may take (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// An event's `eventTime`: `yyyy-MM-ddTHH:mm:ss[.f]Z`.
    EventTime,
    /// Trino's `from_iso8601_timestamp` forms.
    Iso8601,
}

/// Why a text is not a timestamp of the requested form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTimestamp(String);

impl fmt::Display for InvalidTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidTimestamp {}

type Parsed<T> = Result<T, InvalidTimestamp>;

fn invalid<T>(reason: impl Into<String>) -> Parsed<T> {
    Err(InvalidTimestamp(reason.into()))
}

/// Parses a timestamp of the given form into milliseconds since the epoch (UTC).
pub fn parse_timestamp(text: &str, form: Form) -> Parsed<i64> {
    let strict = form == Form::EventTime;
    let mut c = Cursor::new(if strict { text } else { text.trim() });
    let (y, m, d) = c.date(strict)?;
    let mut ms = days_from_civil(y, m, d) * DAY_MS;
    if !c.eat(b'T') {
        if strict {
            return invalid("expected 'T' and a time of day after the date");
        }
        return c.end().map(|()| ms);
    }
    let h = c.number(2, "hour")?;
    let (mut mi, mut se, mut frac_ms) = (0, 0, 0i64);
    let mut has_seconds = false;
    if c.eat(b':') {
        mi = c.number(2, "minute")?;
        if c.eat(b':') {
            se = c.number(2, "second")?;
            has_seconds = true;
            if c.eat(b'.') || (!strict && c.eat(b',')) {
                frac_ms = c.fraction_ms()?;
            }
        }
    }
    if strict && !has_seconds {
        return invalid("the time of day must have hours, minutes and seconds (HH:mm:ss)");
    }
    if h > 23 {
        return invalid(format!("hour {h:02} is out of range (00-23)"));
    }
    if mi > 59 {
        return invalid(format!("minute {mi:02} is out of range (00-59)"));
    }
    if se == 60 {
        return invalid("second 60: leap seconds are not accepted (00-59)");
    }
    if se > 59 {
        return invalid(format!("second {se:02} is out of range (00-59)"));
    }
    ms += (h as i64 * 3600 + mi as i64 * 60 + se as i64) * 1000 + frac_ms;
    if c.eat(b'Z') {
        return c.end().map(|()| ms);
    }
    let Some(sign) = c.peek().filter(|b| *b == b'+' || *b == b'-') else {
        if strict {
            return invalid("no time zone: CloudTrail writes eventTime in UTC, ending in 'Z'");
        }
        return c.end().map(|()| ms);
    };
    if strict {
        return invalid("a UTC offset: CloudTrail writes eventTime in UTC, ending in 'Z'");
    }
    c.i += 1;
    let oh = c.number(2, "offset hour")?;
    let mut om = 0;
    // `+hh`, `+hh:mm` or `+hhmm`.
    if c.eat(b':') || !c.done() {
        om = c.number(2, "offset minute")?;
    }
    if oh > 18 || om > 59 || (oh == 18 && om > 0) {
        return invalid(format!(
            "offset {oh:02}:{om:02} is out of range (at most 18:00)"
        ));
    }
    let offset = (oh as i64 * 60 + om as i64) * 60_000;
    c.end()?;
    Ok(if sign == b'+' {
        ms - offset
    } else {
        ms + offset
    })
}

/// Parses Trino's `from_iso8601_date` forms (`yyyy`, `yyyy-MM`, `yyyy-MM-dd`; surrounding white
/// space ignored) into days since 1970-01-01.
pub fn parse_date(text: &str) -> Parsed<i64> {
    let mut c = Cursor::new(text.trim());
    let (y, m, d) = c.date(false)?;
    c.end()?;
    Ok(days_from_civil(y, m, d))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (no validation).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            b: text.as_bytes(),
            i: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn number(&mut self, n: usize, what: &str) -> Parsed<u32> {
        let digits = self
            .b
            .get(self.i..self.i + n)
            .filter(|s| s.iter().all(u8::is_ascii_digit));
        let Some(digits) = digits else {
            return invalid(format!("the {what} must be {n} digits"));
        };
        self.i += n;
        Ok(digits.iter().fold(0u32, |v, &c| v * 10 + (c - b'0') as u32))
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }

    fn end(&self) -> Parsed<()> {
        if self.done() {
            Ok(())
        } else {
            invalid(format!(
                "unexpected text {:?} after the timestamp",
                String::from_utf8_lossy(&self.b[self.i..])
            ))
        }
    }

    /// `yyyy-MM-dd`, or with `full` false also `yyyy` and `yyyy-MM`; checks the calendar.
    fn date(&mut self, full: bool) -> Parsed<(i64, u32, u32)> {
        let y = self.number(4, "year")? as i64;
        let (mut m, mut d) = (1, 1);
        let mut parts = 1;
        if self.eat(b'-') {
            m = self.number(2, "month")?;
            parts = 2;
            if self.eat(b'-') {
                d = self.number(2, "day")?;
                parts = 3;
            }
        }
        if full && parts < 3 {
            return invalid("expected a date yyyy-MM-dd");
        }
        if !(1..=12).contains(&m) {
            return invalid(format!("month {m:02} is out of range (01-12)"));
        }
        if d < 1 || d > days_in_month(y, m) {
            return invalid(format!("day {d:02} does not exist in {y:04}-{m:02}"));
        }
        Ok((y, m, d))
    }

    /// The digits after the decimal separator, as milliseconds (digits beyond the third are
    /// truncated, as a millisecond timestamp keeps them).
    fn fraction_ms(&mut self) -> Parsed<i64> {
        let start = self.i;
        let mut ms = 0i64;
        let mut scale = 100i64;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            ms += (c - b'0') as i64 * scale;
            scale /= 10;
            self.i += 1;
        }
        match self.i - start {
            0 => invalid("a decimal separator without digits"),
            n if n > 9 => invalid(format!("a fraction of {n} digits (at most 9, nanoseconds)")),
            _ => Ok(ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(text: &str) -> Parsed<i64> {
        parse_timestamp(text, Form::EventTime)
    }

    fn iso(text: &str) -> Parsed<i64> {
        parse_timestamp(text, Form::Iso8601)
    }

    fn reason(result: Parsed<i64>) -> String {
        result.expect_err("should be rejected").to_string()
    }

    #[test]
    fn event_time_is_what_cloudtrail_writes() {
        assert_eq!(event("2024-07-30T21:31:21Z"), Ok(1_722_375_081_000));
        assert_eq!(event("2024-07-30T21:31:21.5Z"), Ok(1_722_375_081_500));
        assert_eq!(
            event("2024-07-30T21:31:21.123456789Z"),
            Ok(1_722_375_081_123)
        );
        assert_eq!(event("1969-12-31T23:59:59Z"), Ok(-1000));
        assert_eq!(event("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
        assert_eq!(event("2000-02-29T00:00:00Z"), Ok(951_782_400_000));
    }

    #[test]
    fn event_time_rejects_impossible_dates_and_times() {
        assert!(reason(event("2024-02-30T00:00:00Z")).contains("day 30 does not exist in 2024-02"));
        assert!(reason(event("2023-02-29T00:00:00Z")).contains("day 29"));
        assert!(reason(event("1900-02-29T00:00:00Z")).contains("day 29"));
        assert!(reason(event("2024-04-31T00:00:00Z")).contains("day 31"));
        assert!(reason(event("2024-00-10T00:00:00Z")).contains("month 00"));
        assert!(reason(event("2024-13-10T00:00:00Z")).contains("month 13"));
        assert!(reason(event("2024-07-00T00:00:00Z")).contains("day 00"));
        assert!(reason(event("2024-07-30T24:00:00Z")).contains("hour 24"));
        assert!(reason(event("2024-07-30T23:60:00Z")).contains("minute 60"));
        assert!(reason(event("2024-12-31T23:59:60Z")).contains("leap second"));
        assert!(reason(event("2024-12-31T23:59:61Z")).contains("second 61"));
    }

    #[test]
    fn event_time_must_be_utc_with_z_and_complete() {
        assert!(reason(event("2024-07-30T21:31:21")).contains("no time zone"));
        assert!(reason(event("2024-07-30T21:31:21+02:00")).contains("UTC offset"));
        assert!(reason(event("2024-07-30T21:31:21-0000")).contains("UTC offset"));
        assert!(reason(event("2024-07-30T21:31Z")).contains("HH:mm:ss"));
        assert!(reason(event("2024-07-30")).contains("'T'"));
        assert!(reason(event("2024-07")).contains("yyyy-MM-dd"));
        assert!(reason(event("2024-07-30 21:31:21Z")).contains("'T'"));
        assert!(reason(event(" 2024-07-30T21:31:21Z")).contains("year"));
        assert!(reason(event("2024-07-30T21:31:21Z ")).contains("unexpected text"));
        assert!(reason(event("2024-07-30T21:31:21zz")).contains("no time zone"));
        assert!(reason(event("2024-07-30T21:31:21,5Z")).contains("no time zone"));
        assert!(reason(event("2024-07-30T21:31:21.Z")).contains("without digits"));
        assert!(reason(event("2024-07-30T21:31:21.1234567891Z")).contains("10 digits"));
        assert!(reason(event("24-07-30T21:31:21Z")).contains("year"));
        assert!(reason(event("")).contains("year"));
        assert!(reason(event("2024-07-30T2:31:21Z")).contains("hour"));
        assert!(reason(event("２０２４-07-30T21:31:21Z")).contains("year"));
    }

    #[test]
    fn trino_forms() {
        assert_eq!(iso("2024-07-30T21:31:21Z"), Ok(1_722_375_081_000));
        assert_eq!(iso("2024-07-30T23:31:21+02:00"), Ok(1_722_375_081_000));
        assert_eq!(iso("2024-07-30T19:31:21-0200"), Ok(1_722_375_081_000));
        assert_eq!(iso("2024-07-30T23:31:21+02"), Ok(1_722_375_081_000));
        assert_eq!(iso("2024-07-30T21:31:21,5Z"), Ok(1_722_375_081_500));
        assert_eq!(iso("2024-07-30T21:31:21"), Ok(1_722_375_081_000));
        assert_eq!(iso("2024-07-30T21:31"), Ok(1_722_375_060_000));
        assert_eq!(iso("2024-07-30T21"), Ok(1_722_373_200_000));
        assert_eq!(iso(" 2024-07-30 "), Ok(1_722_297_600_000));
        assert_eq!(iso("2024-07"), Ok(1_719_792_000_000));
        assert_eq!(iso("2024"), Ok(1_704_067_200_000));
        assert!(reason(iso("2024-07-30T21:31:21+19:00")).contains("offset 19:00"));
        assert!(reason(iso("2024-07-30T21:31:21+18:30")).contains("offset 18:30"));
        assert_eq!(
            iso("2024-07-30T21:31:21+18:00"),
            Ok(1_722_375_081_000 - 18 * 3_600_000)
        );
        assert!(reason(iso("2024-07-30 21:31:21")).contains("unexpected text"));
        assert!(reason(iso("2024-02-30")).contains("day 30"));
        assert!(reason(iso("2024-07-30T23:59:60Z")).contains("leap second"));
        assert!(reason(iso("garbage")).contains("year"));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("2024-07-30"), Ok(19_934));
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(parse_date("1970"), Ok(0));
        assert!(parse_date("2024-02-30").is_err());
        assert!(parse_date("2024-07-30T00:00:00Z").is_err());
    }

    /// Every eventTime the reader admits is a timestamp `from_iso8601_timestamp` takes, at the
    /// same instant: checked over strings built from pieces that are each valid or invalid.
    #[test]
    fn every_event_time_is_an_iso8601_timestamp_with_the_same_instant() {
        let years = ["1969", "2000", "2023", "2024", "1900", "0000", "9999", "24"];
        let months = ["01", "02", "04", "12", "00", "13", "7"];
        let days = ["01", "28", "29", "30", "31", "00", "32"];
        let times = [
            "T00:00:00",
            "T23:59:59",
            "T23:59:60",
            "T24:00:00",
            "T12:60:00",
            "T12:30",
            "T12",
            " 12:00:00",
            "",
        ];
        let fractions = ["", ".5", ".123456789", ".1234567890", ".", ",5"];
        let zones = ["Z", "", "+02:00", "-0500", "+19:00", "z", "Z "];
        let mut admitted = 0;
        let mut checked = 0;
        for y in years {
            for m in months {
                for d in days {
                    for t in times {
                        for f in fractions {
                            for z in zones {
                                let text = format!("{y}-{m}-{d}{t}{f}{z}");
                                checked += 1;
                                if let Ok(ms) = event(&text) {
                                    admitted += 1;
                                    assert_eq!(iso(&text), Ok(ms), "{text}");
                                    assert!(text.ends_with('Z') && text.len() >= 20, "{text}");
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(
            admitted > 100 && admitted < checked / 10,
            "{admitted} of {checked}"
        );
    }
}
