//! The reader's fast path: a byte scanner for well-formed CloudTrail files.
//!
//! It walks the JSON text once, matches keys against the columns without allocating, copies the
//! text of the projected fields straight into the builders and skips every other value by scanning
//! bytes (eight at a time inside strings), with no serde visitor in between. It validates the JSON
//! grammar of everything it passes over as strictly as serde_json does.
//!
//! It handles only the common case and gives up ([`Bail`]) on anything else: invalid JSON, a
//! record that is not an object or that would be rejected, a key with an escape or a non-ASCII
//! character, nesting deeper than [`MAX_DEPTH`], a value serde_json would not accept. The caller
//! then decodes the whole file again with the serde path, which words every error and rejection,
//! so the outcome of a file never depends on which path read it.

use super::{push_json_as_text, validate, ColumnBuilder, Decoder, FieldPath, ValueSeed};
use crate::local::builders::StructBuilder;
use serde::de::DeserializeSeed;

/// The fast path cannot decode this file; decode it with the serde path.
pub(super) struct Bail;

type Fast<T> = std::result::Result<T, Bail>;

/// Deeper nesting is left to the serde path (serde_json's own limit is 128).
const MAX_DEPTH: usize = 100;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `v` that is zero (exact for the lowest one).
#[inline(always)]
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(ONES) & !v & HIGH
}

/// The high bit of each byte of `w` that ends a run of plain string bytes: a quote, a backslash or
/// a control character (exact for the lowest one).
#[inline(always)]
fn specials(w: u64) -> u64 {
    let quote = zero_bytes(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_bytes(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    quote | backslash | control
}

/// From `i`, the index of the first quote, backslash or control byte, or a position at most
/// seven bytes before the end (the caller reads the rest byte by byte): sixteen bytes a step with
/// SSE2 (part of every x86_64), eight with plain integer arithmetic elsewhere and after.
#[inline(always)]
fn plain_run_end(b: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        while i + 16 <= b.len() {
            // SAFETY: SSE2 is in every x86_64 CPU; the unaligned load reads b[i..i + 16], which
            // the loop condition keeps in bounds.
            let mask = unsafe {
                let v = _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>());
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                // Unsigned `v <= 0x1f`: the minimum of the two is v itself.
                let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
            };
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let found = specials(u64::from_le_bytes(word));
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline(always)]
    fn peek(&self) -> Fast<u8> {
        self.b.get(self.i).copied().ok_or(Bail)
    }

    #[inline(always)]
    fn next(&mut self) -> Fast<u8> {
        let c = self.peek()?;
        self.i += 1;
        Ok(c)
    }

    #[inline(always)]
    fn expect(&mut self, c: u8) -> Fast<()> {
        if self.next()? == c {
            Ok(())
        } else {
            Err(Bail)
        }
    }

    fn literal(&mut self, text: &[u8]) -> Fast<()> {
        if self.b[self.i..].starts_with(text) {
            self.i += text.len();
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// After an opening quote: moves past the closing one. Returns whether the string holds an
    /// escape.
    #[inline(always)]
    fn string_tail(&mut self) -> Fast<bool> {
        let mut escaped = false;
        loop {
            self.i = plain_run_end(self.b, self.i);
            match self.next()? {
                b'"' => return Ok(escaped),
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                c if c < 0x20 => return Err(Bail),
                _ => {}
            }
        }
    }

    /// After a backslash: the escape, checked as serde_json checks a string it skips.
    fn escape(&mut self) -> Fast<()> {
        match self.next()? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(()),
            b'u' => {
                for _ in 0..4 {
                    if !self.next()?.is_ascii_hexdigit() {
                        return Err(Bail);
                    }
                }
                Ok(())
            }
            _ => Err(Bail),
        }
    }

    /// An object key and the colon after it; only plain ASCII keys (no escape).
    #[inline(always)]
    fn key(&mut self) -> Fast<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.i;
        if self.string_tail()? {
            return Err(Bail);
        }
        let key = &self.b[start..self.i - 1];
        if !key.is_ascii() {
            return Err(Bail);
        }
        self.ws();
        self.expect(b':')?;
        self.ws();
        Ok(key)
    }

    /// After a value inside an object or array: `,` (then true) or the closing `close` (false).
    #[inline(always)]
    fn more(&mut self, close: u8) -> Fast<bool> {
        self.ws();
        match self.next()? {
            b',' => {
                self.ws();
                Ok(true)
            }
            c if c == close => Ok(false),
            _ => Err(Bail),
        }
    }

    fn number(&mut self) -> Fast<()> {
        if self.peek()? == b'-' {
            self.i += 1;
        }
        match self.next()? {
            b'0' => {
                if self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
                    return Err(Bail);
                }
            }
            b'1'..=b'9' => self.digits(),
            _ => return Err(Bail),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if matches!(self.b.get(self.i), Some(b'e') | Some(b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+') | Some(b'-')) {
                self.i += 1;
            }
            self.some_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Fast<()> {
        if !self.peek()?.is_ascii_digit() {
            return Err(Bail);
        }
        self.digits();
        Ok(())
    }

    /// Skips one value (at the current byte), checking its grammar. `depth` counts the arrays and
    /// objects around it.
    fn skip(&mut self, depth: usize) -> Fast<()> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.string_tail()?;
                Ok(())
            }
            b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(Bail);
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.expect(b'"')?;
                    self.string_tail()?;
                    self.ws();
                    self.expect(b':')?;
                    self.ws();
                    self.skip(depth + 1)?;
                    if !self.more(b'}')? {
                        return Ok(());
                    }
                }
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(Bail);
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if !self.more(b']')? {
                        return Ok(());
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Bail),
        }
    }

    /// Skips one value and returns its text (valid UTF-8, as serde_json's `RawValue` requires).
    #[inline(always)]
    fn raw(&mut self, depth: usize) -> Fast<&'a str> {
        let start = self.i;
        self.skip(depth)?;
        std::str::from_utf8(&self.b[start..self.i]).map_err(|_| Bail)
    }
}

/// Case-insensitive lookup of an ASCII `key` among lower-case `names`, starting at `hint`.
#[inline(always)]
fn find(names: &[Box<str>], key: &[u8], hint: usize) -> Option<usize> {
    let hit = |i: usize| {
        let name = names[i].as_bytes();
        name.len() == key.len() && name.eq_ignore_ascii_case(key)
    };
    if hint < names.len() && hit(hint) {
        return Some(hint);
    }
    (0..names.len()).find(|&i| hit(i))
}

/// Decodes a file into `dec`; `Err(Bail)` leaves `dec` in an unspecified state.
pub(super) fn decode(json: &[u8], dec: &mut Decoder) -> Fast<()> {
    let mut s = Scanner { b: json, i: 0 };
    s.ws();
    s.expect(b'{')?;
    s.ws();
    if s.peek()? == b'}' {
        // No "Records": the serde path says so.
        return Err(Bail);
    }
    loop {
        let key = s.key()?;
        if key == b"Records" && !dec.saw_records {
            dec.saw_records = true;
            records(&mut s, dec)?;
        } else {
            s.skip(1)?;
        }
        if !s.more(b'}')? {
            break;
        }
    }
    s.ws();
    if s.i != json.len() || !dec.saw_records {
        return Err(Bail);
    }
    dec.flush().map_err(|_| Bail)
}

fn records(s: &mut Scanner, dec: &mut Decoder) -> Fast<()> {
    match s.peek()? {
        b'n' => return s.literal(b"null"),
        b'[' => s.i += 1,
        _ => return Err(Bail),
    }
    s.ws();
    if s.peek()? == b']' {
        s.i += 1;
        return Ok(());
    }
    loop {
        record(s, dec)?;
        if !s.more(b']')? {
            return Ok(());
        }
    }
}

/// One record: a JSON object whose keys are the table's columns (see the serde path's
/// `RecordSeed`, which this follows step by step).
fn record(s: &mut Scanner, dec: &mut Decoder) -> Fast<()> {
    // The record's fields are at depth 3: in the file's object, the array, the record.
    const DEPTH: usize = 3;
    s.expect(b'{')?;
    s.ws();
    let mut watched: [Option<&str>; 5] = [None; 5];
    let mut seen: u64 = 0;
    if s.peek()? == b'}' {
        s.i += 1;
    } else {
        let mut hint = 0usize;
        loop {
            let key = s.key()?;
            match find(&dec.names, key, hint).filter(|&i| seen & (1u64 << i) == 0) {
                Some(i) => {
                    seen |= 1u64 << i;
                    hint = i + 1;
                    if let Some(kind) = dec.watched[i] {
                        let raw = s.raw(DEPTH)?;
                        watched[kind as usize] = Some(raw);
                        if let Some(ColumnBuilder::Text(b)) = dec.columns[i].as_mut() {
                            push_json_as_text(b, raw);
                        }
                    } else if let Some(builder) = dec.columns[i].as_mut() {
                        value(s, builder, DEPTH)?;
                    } else {
                        s.skip(DEPTH)?;
                    }
                }
                None => s.skip(DEPTH)?,
            }
            if !s.more(b'}')? {
                break;
            }
        }
    }
    for (i, column) in dec.columns.iter_mut().enumerate() {
        if seen & (1u64 << i) == 0 {
            if let Some(b) = column {
                b.push_null();
            }
        }
    }
    let [time, source, name, region, account] = watched;
    if validate(time, source, name).is_some() {
        return Err(Bail);
    }
    dec.push_partitions(account, region, time);
    dec.records += 1;
    dec.rows += 1;
    if dec.rows >= dec.batch_size {
        dec.flush().map_err(|_| Bail)?;
    }
    Ok(())
}

/// A value into the builder of its column (see the serde path's `ValueSeed`).
fn value(s: &mut Scanner, builder: &mut ColumnBuilder, depth: usize) -> Fast<()> {
    match builder {
        ColumnBuilder::Text(b) => {
            let raw = s.raw(depth)?;
            push_json_as_text(b, raw);
        }
        ColumnBuilder::Struct(b) => match s.peek()? {
            b'{' => structure(s, b, depth + 1)?,
            b'n' => {
                s.literal(b"null")?;
                b.push_null();
            }
            _ => return Err(Bail),
        },
        ColumnBuilder::Unread(b) => {
            s.skip(depth)?;
            b.push_null();
        }
        ColumnBuilder::List(_) | ColumnBuilder::Map(_) => {
            // Rare in queries and small: the serde path's visitor reads the checked value.
            let raw = s.raw(depth)?;
            let mut defect = None;
            let path = FieldPath {
                name: "",
                parent: None,
            };
            let mut de = serde_json::Deserializer::from_str(raw);
            ValueSeed {
                builder,
                defect: &mut defect,
                path: &path,
            }
            .deserialize(&mut de)
            .map_err(|_| Bail)?;
            if defect.is_some() {
                return Err(Bail);
            }
        }
    }
    Ok(())
}

/// An object into a struct column; `depth` counts the containers around its fields.
fn structure(s: &mut Scanner, b: &mut StructBuilder, depth: usize) -> Fast<()> {
    if depth >= MAX_DEPTH {
        return Err(Bail);
    }
    s.expect(b'{')?;
    s.ws();
    let mut seen: u64 = 0;
    if s.peek()? == b'}' {
        s.i += 1;
    } else {
        let mut hint = 0usize;
        loop {
            let key = s.key()?;
            match find(&b.names, key, hint).filter(|&i| seen & (1u64 << i) == 0) {
                Some(i) => {
                    seen |= 1u64 << i;
                    hint = i + 1;
                    value(s, &mut b.children[i], depth)?;
                }
                None => s.skip(depth)?,
            }
            if !s.more(b'}')? {
                break;
            }
        }
    }
    for (i, child) in b.children.iter_mut().enumerate() {
        if seen & (1u64 << i) == 0 {
            child.push_null();
        }
    }
    b.close_row();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::plain_run_end;

    #[test]
    fn a_plain_run_ends_at_the_first_quote_backslash_or_control_byte() {
        let naive = |b: &[u8], i: usize| {
            (i..b.len())
                .find(|&j| matches!(b[j], b'"' | b'\\' | 0..=0x1f))
                .unwrap_or(b.len())
        };
        let specials: [u8; 6] = [b'"', b'\\', 0x00, 0x1f, b'\n', b'\t'];
        // Not specials: the bytes either side of the control range and of the two characters,
        // and UTF-8 bytes above 0x7f (negative as i8).
        let plain: [u8; 8] = [b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff];
        for len in 0..40 {
            for at in 0..=len {
                for &special in &specials {
                    let mut text: Vec<u8> = (0..len).map(|k| plain[k % plain.len()]).collect();
                    if at < len {
                        text[at] = special;
                    }
                    for start in 0..=len.min(3) {
                        let end = plain_run_end(&text, start);
                        let expected = naive(&text, start);
                        // Either exact, or left within the last seven bytes for the caller.
                        assert!(
                            end == expected || (end <= expected && text.len() - end < 8),
                            "{text:?} from {start}: {end} vs {expected}"
                        );
                        assert!(end <= expected, "{text:?} from {start}: skipped a special");
                    }
                }
            }
        }
    }
}
