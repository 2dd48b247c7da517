//! Date-time patterns and time zones for Trino's `format_datetime` / `parse_datetime` (Joda-Time
//! patterns) and `date_parse` (MySQL-style specifiers): a pattern compiles into a list of
//! [`Piece`]s that one parser reads and one printer writes. [`Zone`] is a time zone as Trino names
//! them (`UTC`, `+05:30`, `America/New_York`).

use std::fmt::Write as _;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::OffsetName;

/// A numeric date-time field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Year,
    WeekYear,
    Century,
    Week,
    Month,
    DayOfMonth,
    DayOfYear,
    DayOfWeek,
    /// 0-23 (`H`, `%H`).
    HourOfDay,
    /// 1-24 (`k`).
    ClockHourOfDay,
    /// 0-11 (`K`).
    HourOfHalfDay,
    /// 1-12 (`h`, `%h`).
    ClockHourOfHalfDay,
    Minute,
    Second,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Year => "year",
            Field::WeekYear => "weekyear",
            Field::Century => "centuryOfEra",
            Field::Week => "weekOfWeekyear",
            Field::Month => "monthOfYear",
            Field::DayOfMonth => "dayOfMonth",
            Field::DayOfYear => "dayOfYear",
            Field::DayOfWeek => "dayOfWeek",
            Field::HourOfDay => "hourOfDay",
            Field::ClockHourOfDay => "clockhourOfDay",
            Field::HourOfHalfDay => "hourOfHalfday",
            Field::ClockHourOfHalfDay => "clockhourOfHalfday",
            Field::Minute => "minuteOfHour",
            Field::Second => "secondOfMinute",
        }
    }

    fn range(self) -> (i64, i64) {
        match self {
            Field::Year | Field::WeekYear => (-292_275_054, 292_278_993),
            Field::Century => (0, 2_922_789),
            Field::Week => (1, 53),
            Field::Month => (1, 12),
            Field::DayOfMonth => (1, 31),
            Field::DayOfYear => (1, 366),
            Field::DayOfWeek => (1, 7),
            Field::HourOfDay => (0, 23),
            Field::ClockHourOfDay => (1, 24),
            Field::HourOfHalfDay => (0, 11),
            Field::ClockHourOfHalfDay => (1, 12),
            Field::Minute | Field::Second => (0, 59),
        }
    }

    fn value(self, dt: &NaiveDateTime) -> i64 {
        match self {
            Field::Year => dt.year() as i64,
            Field::WeekYear => dt.iso_week().year() as i64,
            Field::Century => dt.year().abs() as i64 / 100,
            Field::Week => dt.iso_week().week() as i64,
            Field::Month => dt.month() as i64,
            Field::DayOfMonth => dt.day() as i64,
            Field::DayOfYear => dt.ordinal() as i64,
            Field::DayOfWeek => dt.weekday().number_from_monday() as i64,
            Field::HourOfDay => dt.hour() as i64,
            Field::ClockHourOfDay => match dt.hour() {
                0 => 24,
                h => h as i64,
            },
            Field::HourOfHalfDay => (dt.hour() % 12) as i64,
            Field::ClockHourOfHalfDay => dt.hour12().1 as i64,
            Field::Minute => dt.minute() as i64,
            Field::Second => dt.second() as i64,
        }
    }
}

/// One element of a compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    /// A number printed with at least `width` digits and parsed with 1..=`max` digits (exactly
    /// `width` when the next piece is a number too, as Joda does for `yyyyMMdd`).
    Number {
        field: Field,
        width: usize,
        max: usize,
        fixed: bool,
    },
    /// Two-digit year; parsed into the century window `pivot - 50 ..= pivot + 49`.
    TwoDigitYear {
        pivot: i64,
    },
    /// Fraction of the second: printed with `digits` digits (truncated), parsed with 1 to 9.
    Fraction {
        digits: usize,
    },
    MonthName {
        long: bool,
    },
    WeekdayName {
        long: bool,
    },
    HalfDay,
    Era,
    /// `Z` (`+0000`) or `ZZ` (`+00:00`); parsing also takes `Z`.
    Offset {
        colon: bool,
    },
    /// `ZZZ`: the zone id (`UTC`, `America/New_York`).
    ZoneId,
    /// `z`/`zzzz`: the zone's abbreviation; parsing takes Joda's names (`UTC`, `GMT`, `EST`, ...).
    ZoneName,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn is_numeric(piece: &Piece) -> bool {
    matches!(piece, Piece::Number { .. } | Piece::TwoDigitYear { .. })
}

fn mark_adjacent_numbers(pieces: &mut [Piece]) {
    for i in 0..pieces.len().saturating_sub(1) {
        let next_numeric =
            is_numeric(&pieces[i + 1]) || matches!(pieces[i + 1], Piece::Fraction { .. });
        if let Piece::Number { fixed, .. } = &mut pieces[i] {
            *fixed = next_numeric;
        }
    }
}

fn push_literal(pieces: &mut Vec<Piece>, text: &str) {
    if let Some(Piece::Literal(last)) = pieces.last_mut() {
        last.push_str(text);
    } else {
        pieces.push(Piece::Literal(text.to_string()));
    }
}

fn number(field: Field, width: usize, max: usize) -> Piece {
    Piece::Number {
        field,
        width,
        max: max.max(width),
        fixed: false,
    }
}

/// Compiles a Joda-Time pattern (`yyyy-MM-dd HH:mm:ss.SSS ZZ`, `'quoted text'`).
pub fn compile_joda(pattern: &str) -> Result<Vec<Piece>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // '' is a quote; 'text' is literal text in which '' is a quote.
            if chars.get(i + 1) == Some(&'\'') {
                push_literal(&mut pieces, "'");
                i += 2;
                continue;
            }
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated quote in pattern '{pattern}'")),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            push_literal(&mut pieces, &text);
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut pieces, &c.to_string());
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        i += n;
        let piece = match c {
            'G' => Piece::Era,
            'C' => number(Field::Century, n, 7),
            'Y' | 'y' if n == 2 => Piece::TwoDigitYear {
                pivot: Utc::now().year() as i64 - 30,
            },
            'Y' | 'y' => number(Field::Year, n, 9),
            'x' if n == 2 => Piece::TwoDigitYear {
                pivot: Utc::now().year() as i64 - 30,
            },
            'x' => number(Field::WeekYear, n, 9),
            'w' => number(Field::Week, n, 2),
            'e' => number(Field::DayOfWeek, n, 1),
            'E' => Piece::WeekdayName { long: n >= 4 },
            'D' => number(Field::DayOfYear, n, 3),
            'M' if n >= 4 => Piece::MonthName { long: true },
            'M' if n == 3 => Piece::MonthName { long: false },
            'M' => number(Field::Month, n, 2),
            'd' => number(Field::DayOfMonth, n, 2),
            'a' => Piece::HalfDay,
            'h' => number(Field::ClockHourOfHalfDay, n, 2),
            'H' => number(Field::HourOfDay, n, 2),
            'k' => number(Field::ClockHourOfDay, n, 2),
            'K' => number(Field::HourOfHalfDay, n, 2),
            'm' => number(Field::Minute, n, 2),
            's' => number(Field::Second, n, 2),
            'S' => Piece::Fraction { digits: n },
            'Z' if n == 1 => Piece::Offset { colon: false },
            'Z' if n == 2 => Piece::Offset { colon: true },
            'Z' => Piece::ZoneId,
            'z' => Piece::ZoneName,
            other => {
                return Err(format!(
                    "illegal pattern component '{other}' in '{pattern}'"
                ))
            }
        };
        pieces.push(piece);
    }
    mark_adjacent_numbers(&mut pieces);
    Ok(pieces)
}

/// Compiles a MySQL-style pattern of `date_parse` (`%Y-%m-%d %H:%i:%s`) as Trino reads it.
pub fn compile_mysql_for_parsing(pattern: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut chars = pattern.chars();
    let two = |f| number(f, 2, 2);
    while let Some(c) = chars.next() {
        if c != '%' {
            push_literal(&mut pieces, &c.to_string());
            continue;
        }
        let Some(spec) = chars.next() else {
            push_literal(&mut pieces, "%");
            break;
        };
        match spec {
            'a' => pieces.push(Piece::WeekdayName { long: false }),
            'b' => pieces.push(Piece::MonthName { long: false }),
            'c' => pieces.push(number(Field::Month, 1, 2)),
            'd' => pieces.push(two(Field::DayOfMonth)),
            'e' => pieces.push(number(Field::DayOfMonth, 1, 2)),
            'f' => pieces.push(Piece::Fraction { digits: 6 }),
            'H' => pieces.push(two(Field::HourOfDay)),
            'h' | 'I' => pieces.push(two(Field::ClockHourOfHalfDay)),
            'i' => pieces.push(two(Field::Minute)),
            'j' => pieces.push(number(Field::DayOfYear, 3, 3)),
            'k' => pieces.push(number(Field::HourOfDay, 1, 2)),
            'l' => pieces.push(number(Field::ClockHourOfHalfDay, 1, 2)),
            'M' => pieces.push(Piece::MonthName { long: true }),
            'm' => pieces.push(two(Field::Month)),
            'p' => pieces.push(Piece::HalfDay),
            'r' => {
                pieces.push(two(Field::ClockHourOfHalfDay));
                push_literal(&mut pieces, ":");
                pieces.push(two(Field::Minute));
                push_literal(&mut pieces, ":");
                pieces.push(two(Field::Second));
                push_literal(&mut pieces, " ");
                pieces.push(Piece::HalfDay);
            }
            'S' | 's' => pieces.push(two(Field::Second)),
            'T' => {
                pieces.push(two(Field::HourOfDay));
                push_literal(&mut pieces, ":");
                pieces.push(two(Field::Minute));
                push_literal(&mut pieces, ":");
                pieces.push(two(Field::Second));
            }
            'v' => pieces.push(two(Field::Week)),
            'W' => pieces.push(Piece::WeekdayName { long: true }),
            'x' => pieces.push(number(Field::WeekYear, 4, 4)),
            'Y' => pieces.push(number(Field::Year, 4, 4)),
            // Trino's pivot year for %y: 70-99 are 19xx, 00-69 are 20xx.
            'y' => pieces.push(Piece::TwoDigitYear { pivot: 2020 }),
            'D' | 'U' | 'u' | 'V' | 'w' | 'X' => {
                return Err(format!("format specifier %{spec} is not supported"))
            }
            other => push_literal(&mut pieces, &other.to_string()),
        }
    }
    mark_adjacent_numbers(&mut pieces);
    Ok(pieces)
}

// ---------------------------------------------------------------------------------------------
// Time zones.

/// A time zone as Trino accepts it: `UTC` (and its aliases), a fixed offset or an IANA region.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// The name Arrow's timestamp type carries (`UTC`, `+05:30`, `America/New_York`).
    pub id: String,
    kind: ZoneKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ZoneKind {
    Fixed(i32),
    Region(chrono_tz::Tz),
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            id: "UTC".into(),
            kind: ZoneKind::Fixed(0),
        }
    }

    /// Parses a zone key (case-insensitive, as Trino): `UTC`, `Z`, `GMT`, `+05:30`, `-08`, `Europe/Paris`.
    pub fn parse(key: &str) -> Option<Zone> {
        let key = key.trim();
        if ["UTC", "Z", "GMT", "UT", "Etc/UTC", "Etc/GMT", "Zulu", "UCT"]
            .iter()
            .any(|u| u.eq_ignore_ascii_case(key))
            || matches!(key, "+00:00" | "-00:00" | "+00" | "+0000")
        {
            return Some(Zone::utc());
        }
        if let Some(seconds) = parse_offset_text(key) {
            return Some(Zone::fixed(seconds));
        }
        let tz = chrono_tz::Tz::from_str(key).ok().or_else(|| {
            chrono_tz::TZ_VARIANTS
                .iter()
                .copied()
                .find(|t| t.name().eq_ignore_ascii_case(key))
        })?;
        Some(Zone {
            id: tz.name().to_string(),
            kind: ZoneKind::Region(tz),
        })
    }

    fn fixed(seconds: i32) -> Zone {
        if seconds == 0 {
            return Zone::utc();
        }
        let sign = if seconds < 0 { '-' } else { '+' };
        let a = seconds.abs();
        Zone {
            id: format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60),
            kind: ZoneKind::Fixed(seconds),
        }
    }

    /// The zone of an Arrow timestamp type's time zone string (None: a naive timestamp).
    pub fn of_arrow(tz: Option<&str>) -> Result<Option<Zone>, String> {
        match tz {
            None => Ok(None),
            Some(t) => Zone::parse(t)
                .map(Some)
                .ok_or_else(|| format!("unknown time zone '{t}'")),
        }
    }

    /// The offset from UTC (seconds) at a UTC instant.
    pub fn offset_at(&self, utc: &NaiveDateTime) -> i32 {
        match self.kind {
            ZoneKind::Fixed(s) => s,
            ZoneKind::Region(tz) => tz.offset_from_utc_datetime(utc).fix().local_minus_utc(),
        }
    }

    /// The local date-time of a UTC instant.
    pub fn local(&self, utc: &NaiveDateTime) -> NaiveDateTime {
        *utc + TimeDelta::seconds(self.offset_at(utc) as i64)
    }

    /// The UTC instant of a local date-time; in a daylight-saving gap the offset before the gap
    /// applies, of two candidates the earlier (as Joda-Time, which Trino uses).
    pub fn to_utc(&self, local: &NaiveDateTime) -> NaiveDateTime {
        match self.kind {
            ZoneKind::Fixed(s) => *local - TimeDelta::seconds(s as i64),
            ZoneKind::Region(tz) => match tz.from_local_datetime(local).earliest() {
                Some(dt) => dt.naive_utc(),
                None => {
                    let before = *local - TimeDelta::hours(3);
                    let offset = tz.offset_from_utc_datetime(&before).fix().local_minus_utc();
                    *local - TimeDelta::seconds(offset as i64)
                }
            },
        }
    }

    fn abbreviation(&self, utc: &NaiveDateTime) -> String {
        match self.kind {
            ZoneKind::Fixed(_) => self.id.clone(),
            ZoneKind::Region(tz) => {
                let offset = tz.offset_from_utc_datetime(utc);
                match offset.abbreviation() {
                    Some(a) if !a.starts_with(['+', '-']) => a.to_string(),
                    _ => format_offset(offset.fix().local_minus_utc(), true),
                }
            }
        }
    }
}

fn format_offset(seconds: i32, colon: bool) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let a = seconds.abs();
    let sep = if colon { ":" } else { "" };
    format!("{sign}{:02}{sep}{:02}", a / 3600, (a % 3600) / 60)
}

/// `+hh:mm`, `+hhmm` or `+hh` → seconds east of UTC.
fn parse_offset_text(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: Vec<u8> = b[1..].iter().copied().filter(|c| *c != b':').collect();
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    if digits.len() == 4 && b.len() == 6 && b[3] != b':' {
        return None;
    }
    let num = |d: &[u8]| d.iter().fold(0i32, |a, c| a * 10 + (c - b'0') as i32);
    let h = num(&digits[..2]);
    let m = if digits.len() == 4 {
        num(&digits[2..])
    } else {
        0
    };
    (h <= 18 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

// ---------------------------------------------------------------------------------------------
// Printing.

/// Writes the UTC instant `utc` in `zone` with `pieces`.
pub fn print(buf: &mut String, pieces: &[Piece], utc: &NaiveDateTime, nanos: u32, zone: &Zone) {
    let dt = zone.local(utc);
    for piece in pieces {
        let _ = match piece {
            Piece::Literal(s) => {
                buf.push_str(s);
                Ok(())
            }
            Piece::Number { field, width, .. } => {
                let v = field.value(&dt);
                if v < 0 {
                    write!(buf, "-{:0w$}", -v, w = *width)
                } else {
                    write!(buf, "{v:0w$}", w = *width)
                }
            }
            Piece::TwoDigitYear { .. } => write!(buf, "{:02}", dt.year().rem_euclid(100)),
            Piece::Fraction { digits } => {
                let text = format!("{nanos:09}");
                let n = (*digits).min(9);
                buf.push_str(&text[..n]);
                for _ in n..*digits {
                    buf.push('0');
                }
                Ok(())
            }
            Piece::MonthName { long } => {
                let name = MONTHS[dt.month0() as usize];
                buf.push_str(if *long { name } else { &name[..3] });
                Ok(())
            }
            Piece::WeekdayName { long } => {
                let name = WEEKDAYS[dt.weekday().num_days_from_monday() as usize];
                buf.push_str(if *long { name } else { &name[..3] });
                Ok(())
            }
            Piece::HalfDay => {
                buf.push_str(if dt.hour() < 12 { "AM" } else { "PM" });
                Ok(())
            }
            Piece::Era => {
                buf.push_str(if dt.year() > 0 { "AD" } else { "BC" });
                Ok(())
            }
            Piece::Offset { colon } => {
                buf.push_str(&format_offset(zone.offset_at(utc), *colon));
                Ok(())
            }
            Piece::ZoneId => {
                buf.push_str(&zone.id);
                Ok(())
            }
            Piece::ZoneName => {
                buf.push_str(&zone.abbreviation(utc));
                Ok(())
            }
        };
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing.

/// What a parse read; unset fields default to 1970-01-01T00:00:00.
#[derive(Default)]
struct Parsed {
    values: Vec<(Field, i64)>,
    pm: Option<bool>,
    nanos: u32,
    zone: Option<Zone>,
}

impl Parsed {
    fn get(&self, field: Field) -> Option<i64> {
        self.values
            .iter()
            .rev()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| *v)
    }
}

struct Input<'a> {
    text: &'a str,
    pos: usize,
}

impl Input<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn digits(&mut self, min: usize, max: usize) -> Option<(i64, usize)> {
        let bytes = self.rest().as_bytes();
        let n = bytes
            .iter()
            .take(max)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n < min.max(1) {
            return None;
        }
        let v = bytes[..n]
            .iter()
            .fold(0i64, |a, b| a * 10 + (b - b'0') as i64);
        self.pos += n;
        Some((v, n))
    }

    /// The index in `names` of the name (or its 3-letter form) the input starts with; full
    /// names are tried first (Joda accepts either form whatever the pattern's width).
    fn name(&mut self, names: &[&str]) -> Option<usize> {
        let rest = self.rest();
        let starts = |p: &str| {
            rest.len() >= p.len()
                && rest.is_char_boundary(p.len())
                && rest[..p.len()].eq_ignore_ascii_case(p)
        };
        let found = (names
            .iter()
            .position(|n| starts(n))
            .map(|i| (i, names[i].len())))
        .or_else(|| {
            names
                .iter()
                .position(|n| starts(&n[..n.len().min(3)]))
                .map(|i| (i, names[i].len().min(3)))
        });
        let (i, len) = found?;
        self.pos += len;
        Some(i)
    }
}

/// The zone names `z` parses: Joda-Time's default table (`DateTimeUtils.getDefaultTimeZoneNames`).
const ZONE_NAMES: &[(&str, &str)] = &[
    ("UT", "UTC"),
    ("UTC", "UTC"),
    ("GMT", "UTC"),
    ("EST", "America/New_York"),
    ("EDT", "America/New_York"),
    ("CST", "America/Chicago"),
    ("CDT", "America/Chicago"),
    ("MST", "America/Denver"),
    ("MDT", "America/Denver"),
    ("PST", "America/Los_Angeles"),
    ("PDT", "America/Los_Angeles"),
];

/// Parses `text` with `pieces`: the UTC instant (as a naive date-time), its nanoseconds and the
/// zone the text named, if any. `default_zone` applies to text without a zone.
pub fn parse(
    pieces: &[Piece],
    text: &str,
    default_zone: &Zone,
) -> Result<(NaiveDateTime, Option<Zone>), String> {
    let mut input = Input { text, pos: 0 };
    let mut parsed = Parsed::default();
    let malformed = |input: &Input| {
        format!(
            "'{text}' is malformed at '{}'",
            input.rest().chars().take(20).collect::<String>()
        )
    };
    for piece in pieces {
        match piece {
            Piece::Literal(lit) => {
                let rest = input.rest();
                let ok = rest.len() >= lit.len()
                    && rest.is_char_boundary(lit.len())
                    && rest[..lit.len()].eq_ignore_ascii_case(lit);
                if !ok {
                    return Err(malformed(&input));
                }
                input.pos += lit.len();
            }
            Piece::Number {
                field,
                width,
                max,
                fixed,
            } => {
                let negative =
                    matches!(field, Field::Year | Field::WeekYear) && input.rest().starts_with('-');
                if negative {
                    input.pos += 1;
                }
                let (min, max) = if *fixed { (*width, *width) } else { (1, *max) };
                let (v, _) = input.digits(min, max).ok_or_else(|| malformed(&input))?;
                parsed.values.push((*field, if negative { -v } else { v }));
            }
            Piece::TwoDigitYear { pivot } => {
                let (v, _) = input.digits(2, 2).ok_or_else(|| malformed(&input))?;
                let low = pivot - 50;
                let mut year = low - low.rem_euclid(100) + v;
                if year < low {
                    year += 100;
                }
                parsed.values.push((Field::Year, year));
            }
            Piece::Fraction { .. } => {
                let (v, n) = input.digits(1, 9).ok_or_else(|| malformed(&input))?;
                parsed.nanos = (v * 10i64.pow(9 - n as u32)) as u32;
            }
            Piece::MonthName { .. } => {
                let i = input.name(&MONTHS).ok_or_else(|| malformed(&input))?;
                parsed.values.push((Field::Month, i as i64 + 1));
            }
            Piece::WeekdayName { .. } => {
                let i = input.name(&WEEKDAYS).ok_or_else(|| malformed(&input))?;
                parsed.values.push((Field::DayOfWeek, i as i64 + 1));
            }
            Piece::HalfDay => {
                let i = input.name(&["AM", "PM"]).ok_or_else(|| malformed(&input))?;
                parsed.pm = Some(i == 1);
            }
            Piece::Era => {
                let rest = input.rest();
                if rest.len() >= 2 && rest[..2].eq_ignore_ascii_case("AD") {
                    input.pos += 2;
                } else {
                    return Err(malformed(&input));
                }
            }
            Piece::Offset { .. } => {
                let rest = input.rest();
                if rest.starts_with('Z') {
                    input.pos += 1;
                    parsed.zone = Some(Zone::utc());
                    continue;
                }
                let len = rest
                    .char_indices()
                    .take_while(|(i, c)| {
                        (*i == 0 && (*c == '+' || *c == '-')) || c.is_ascii_digit() || *c == ':'
                    })
                    .count()
                    .min(6);
                let seconds = parse_offset_text(&rest[..len]).ok_or_else(|| malformed(&input))?;
                input.pos += len;
                parsed.zone = Some(Zone::fixed(seconds));
            }
            Piece::ZoneId => {
                let rest = input.rest();
                let len = rest
                    .char_indices()
                    .take_while(|(_, c)| {
                        c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-' | ':')
                    })
                    .count();
                let zone = Zone::parse(&rest[..len]).ok_or_else(|| malformed(&input))?;
                input.pos += len;
                parsed.zone = Some(zone);
            }
            Piece::ZoneName => {
                // Joda-Time parses the names of its default table (longest match, exact case).
                let rest = input.rest();
                let (name, id) = ZONE_NAMES
                    .iter()
                    .filter(|(name, _)| rest.starts_with(name))
                    .max_by_key(|(name, _)| name.len())
                    .ok_or_else(|| {
                        format!(
                            "{} (a time zone name 'z' is one of {})",
                            malformed(&input),
                            ZONE_NAMES
                                .iter()
                                .map(|(n, _)| *n)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })?;
                input.pos += name.len();
                parsed.zone = Zone::parse(id);
            }
        }
    }
    if !input.rest().is_empty() {
        return Err(malformed(&input));
    }
    let local = resolve(&parsed).map_err(|e| format!("cannot parse '{text}': {e}"))?;
    let zone = parsed.zone.clone();
    let utc = zone.as_ref().unwrap_or(default_zone).to_utc(&local);
    Ok((utc, zone))
}

fn check(field: Field, v: i64) -> Result<i64, String> {
    let (lo, hi) = field.range();
    if v < lo || v > hi {
        return Err(format!(
            "value {v} for {} must be in the range [{lo},{hi}]",
            field.name()
        ));
    }
    Ok(v)
}

fn resolve(p: &Parsed) -> Result<NaiveDateTime, String> {
    for (f, v) in &p.values {
        check(*f, *v)?;
    }
    let year = p.get(Field::Year).unwrap_or(1970) as i32;
    let date = if let Some(week) = p.get(Field::Week) {
        let wy = p.get(Field::WeekYear).map(|y| y as i32).unwrap_or(year);
        let dow = p.get(Field::DayOfWeek).unwrap_or(1) as u32;
        let weekday = chrono::Weekday::try_from((dow - 1) as u8).map_err(|e| e.to_string())?;
        NaiveDate::from_isoywd_opt(wy, week as u32, weekday)
            .ok_or_else(|| format!("week {week} does not exist in {wy}"))?
    } else if let Some(doy) = p.get(Field::DayOfYear) {
        NaiveDate::from_yo_opt(year, doy as u32)
            .ok_or_else(|| format!("value {doy} for dayOfYear is out of range for {year}"))?
    } else {
        let month = p.get(Field::Month).unwrap_or(1) as u32;
        let day = p.get(Field::DayOfMonth).unwrap_or(1) as u32;
        NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
            format!("value {day} for dayOfMonth must be in the range [1,{}]", {
                let next = if month == 12 {
                    NaiveDate::from_ymd_opt(year + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(year, month + 1, 1)
                };
                next.and_then(|d| d.pred_opt())
                    .map(|d| d.day())
                    .unwrap_or(31)
            })
        })?
    };
    let hour = if let Some(h) = p.get(Field::HourOfDay) {
        h
    } else if let Some(h) = p.get(Field::ClockHourOfDay) {
        h % 24
    } else {
        let h12 = p
            .get(Field::ClockHourOfHalfDay)
            .map(|h| h % 12)
            .or(p.get(Field::HourOfHalfDay))
            .unwrap_or(0);
        h12 + if p.pm == Some(true) { 12 } else { 0 }
    };
    let minute = p.get(Field::Minute).unwrap_or(0);
    let second = p.get(Field::Second).unwrap_or(0);
    date.and_hms_nano_opt(hour as u32, minute as u32, second as u32, p.nanos)
        .ok_or_else(|| "time of day out of range".to_string())
}

/// The zone's offset formatted as `+hh:mm` (`Z` for UTC) — Trino's ISO-8601 suffix.
pub fn iso_suffix(zone: &Zone, utc: &NaiveDateTime) -> String {
    match zone.offset_at(utc) {
        0 => "Z".into(),
        o => format_offset(o, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|x| x.and_hms_opt(h, mi, s))
            .unwrap_or_default()
    }

    #[test]
    fn joda_round_trip() {
        let pieces = compile_joda("yyyy-MM-dd'T'HH:mm:ss.SSS ZZ EEE MMM a").unwrap_or_default();
        let mut buf = String::new();
        print(
            &mut buf,
            &pieces,
            &at(2024, 7, 5, 21, 3, 9),
            120_000_000,
            &Zone::utc(),
        );
        assert_eq!(buf, "2024-07-05T21:03:09.120 +00:00 Fri Jul PM");
        let parsed = parse(
            &compile_joda("yyyy-MM-dd HH:mm:ss Z").unwrap_or_default(),
            "2024-07-05 23:03:09 +0200",
            &Zone::utc(),
        );
        assert_eq!(parsed.map(|(t, _)| t), Ok(at(2024, 7, 5, 21, 3, 9)));
        assert!(compile_joda("yyyy-MM-dd q").is_err());
        assert_eq!(
            parse(
                &compile_joda("yyyyMMdd").unwrap_or_default(),
                "20240730",
                &Zone::utc()
            )
            .map(|(t, _)| t),
            Ok(at(2024, 7, 30, 0, 0, 0))
        );
    }

    #[test]
    fn mysql_parsing() {
        let pieces = compile_mysql_for_parsing("%Y-%m-%d %H:%i:%s.%f").unwrap_or_default();
        let r = parse(&pieces, "2024-07-30 21:31:21.5", &Zone::utc()).map(|(t, _)| t);
        assert_eq!(
            r,
            Ok(at(2024, 7, 30, 21, 31, 21) + TimeDelta::milliseconds(500))
        );
        let pieces = compile_mysql_for_parsing("%d/%b/%Y:%r").unwrap_or_default();
        assert_eq!(
            parse(&pieces, "05/Jul/2024:09:03:09 PM", &Zone::utc()).map(|(t, _)| t),
            Ok(at(2024, 7, 5, 21, 3, 9))
        );
        let pieces = compile_mysql_for_parsing("%y-%m-%d").unwrap_or_default();
        assert_eq!(
            parse(&pieces, "69-01-02", &Zone::utc()).map(|(t, _)| t),
            Ok(at(2069, 1, 2, 0, 0, 0))
        );
        assert_eq!(
            parse(&pieces, "70-01-02", &Zone::utc()).map(|(t, _)| t),
            Ok(at(1970, 1, 2, 0, 0, 0))
        );
        let err = parse(&pieces, "24-13-01", &Zone::utc());
        assert!(
            matches!(&err, Err(m) if m.contains("monthOfYear")),
            "{err:?}"
        );
        let err = parse(&pieces, "24-01-01x", &Zone::utc());
        assert!(
            matches!(&err, Err(m) if m.contains("malformed at 'x'")),
            "{err:?}"
        );
        assert!(compile_mysql_for_parsing("%D").is_err());
    }

    #[test]
    fn zone_names_and_offsets() {
        let p = |pattern: &str, text: &str| {
            parse(
                &compile_joda(pattern).unwrap_or_default(),
                text,
                &Zone::utc(),
            )
            .map(|(t, _)| t)
        };
        assert_eq!(
            p("yyyy-MM-dd HH:mm z", "2024-01-01 10:00 UTC"),
            Ok(at(2024, 1, 1, 10, 0, 0))
        );
        assert_eq!(
            p("yyyy-MM-dd HH:mm z", "2024-01-01 10:00 GMT"),
            Ok(at(2024, 1, 1, 10, 0, 0))
        );
        assert_eq!(
            p("yyyy-MM-dd HH:mm z", "2024-01-01 10:00 EST"),
            Ok(at(2024, 1, 1, 15, 0, 0))
        );
        assert_eq!(
            p("yyyy-MM-dd HH:mm Z", "2024-01-01 10:00 -0700"),
            Ok(at(2024, 1, 1, 17, 0, 0))
        );
        assert_eq!(
            p("yyyy-MM-dd HH:mm ZZ", "2024-01-01 10:00 +00:00"),
            Ok(at(2024, 1, 1, 10, 0, 0))
        );
        assert_eq!(
            p("yyyy-MM-dd HH:mm Z", "2024-01-01 10:00 Z"),
            Ok(at(2024, 1, 1, 10, 0, 0))
        );
        assert_eq!(
            p("yyyy-MM-dd HH:mm ZZZ", "2024-07-01 10:00 America/New_York"),
            Ok(at(2024, 7, 1, 14, 0, 0))
        );
        assert!(p("yyyy-MM-dd HH:mm z", "2024-01-01 10:00 Mars").is_err());
    }

    #[test]
    fn zones() {
        let ny = Zone::parse("america/new_york");
        assert_eq!(ny.as_ref().map(|z| z.id.as_str()), Some("America/New_York"));
        let ny = ny.unwrap_or_else(Zone::utc);
        let utc = at(2024, 7, 30, 12, 0, 0);
        assert_eq!(ny.offset_at(&utc), -4 * 3600);
        assert_eq!(ny.to_utc(&at(2024, 7, 30, 8, 0, 0)), utc);
        assert_eq!(Zone::parse("+05:30").map(|z| z.id), Some("+05:30".into()));
        assert_eq!(Zone::parse("utc").map(|z| z.id), Some("UTC".into()));
        assert_eq!(Zone::parse("Mars/Olympus"), None);
    }
}
