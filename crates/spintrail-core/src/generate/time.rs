//! Civil-time helpers on Unix seconds (proleptic Gregorian, UTC), hand-rolled for speed.

/// (year, month 1-12, day 1-31) of a day number since 1970-01-01 (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[inline]
fn two(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

fn four(out: &mut [u8], y: i64) {
    let y = y.clamp(0, 9999) as u32;
    two(&mut out[0..2], y / 100);
    two(&mut out[2..4], y % 100);
}

/// `2024-07-30T21:31:21Z`
pub(crate) fn iso(t: i64) -> [u8; 20] {
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400) as u32;
    let mut o = *b"0000-00-00T00:00:00Z";
    four(&mut o[0..4], y);
    two(&mut o[5..7], mo);
    two(&mut o[8..10], d);
    two(&mut o[11..13], s / 3600);
    two(&mut o[14..16], s / 60 % 60);
    two(&mut o[17..19], s % 60);
    o
}

/// (`yyyy/MM/dd`, `yyyyMMddTHHmmZ`) for a file's folder and name.
pub(crate) fn folder_and_stamp(t: i64) -> (String, String) {
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400) as u32;
    (
        format!("{y:04}/{mo:02}/{d:02}"),
        format!("{y:04}{mo:02}{d:02}T{:02}{:02}Z", s / 3600, s / 60 % 60),
    )
}

/// `Jul 30, 2024, 9:46:15 PM` — the form STS uses for credential expirations.
pub(crate) fn sts_expiration(t: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400) as u32;
    let h24 = s / 3600;
    let (h12, ampm) = match h24 {
        0 => (12, "AM"),
        1..=11 => (h24, "AM"),
        12 => (12, "PM"),
        _ => (h24 - 12, "PM"),
    };
    format!(
        "{} {d}, {y}, {h12}:{:02}:{:02} {ampm}",
        MONTHS[(mo - 1) as usize],
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(&iso(1_722_375_081), b"2024-07-30T21:31:21Z");
        assert_eq!(&iso(0), b"1970-01-01T00:00:00Z");
        assert_eq!(&iso(951_782_400), b"2000-02-29T00:00:00Z");
        let (f, s) = folder_and_stamp(1_722_375_081);
        assert_eq!(f, "2024/07/30");
        assert_eq!(s, "20240730T2131Z");
        assert_eq!(sts_expiration(1_722_375_975), "Jul 30, 2024, 9:46:15 PM");
    }
}
