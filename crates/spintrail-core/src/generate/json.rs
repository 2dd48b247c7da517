//! A minimal streaming JSON writer into a reused byte buffer.

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(crate) struct Json {
    pub(crate) buf: Vec<u8>,
    comma: bool,
}

impl Json {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Json {
            buf: Vec::with_capacity(n),
            comma: false,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.comma = false;
    }

    #[inline]
    fn sep(&mut self) {
        if self.comma {
            self.buf.push(b',');
        }
    }

    /// Opens an object or array (`{` or `[`) as a value.
    #[inline]
    fn open(&mut self, bracket: u8) {
        self.sep();
        self.buf.push(bracket);
        self.comma = false;
    }

    /// Closes an object or array (`}` or `]`); a value follows with a comma.
    #[inline]
    fn close(&mut self, bracket: u8) {
        self.buf.push(bracket);
        self.comma = true;
    }

    /// A complete value given as JSON text.
    #[inline]
    fn value(&mut self, json: &[u8]) {
        self.sep();
        self.buf.extend_from_slice(json);
        self.comma = true;
    }

    /// `"key":` — keys are compile-time constants without characters that need escaping.
    #[inline]
    pub(crate) fn key(&mut self, k: &str) {
        self.sep();
        self.buf.push(b'"');
        self.buf.extend_from_slice(k.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self.comma = false;
    }

    #[inline]
    pub(crate) fn obj(&mut self) {
        self.open(b'{');
    }

    #[inline]
    pub(crate) fn end_obj(&mut self) {
        self.close(b'}');
    }

    #[inline]
    pub(crate) fn arr(&mut self) {
        self.open(b'[');
    }

    #[inline]
    pub(crate) fn end_arr(&mut self) {
        self.close(b']');
    }

    /// A string value, escaped.
    #[inline]
    pub(crate) fn str(&mut self, s: &str) {
        self.open_str();
        self.part(s);
        self.close_str();
    }

    /// Start a string value whose content is appended piecewise with `part`.
    #[inline]
    pub(crate) fn open_str(&mut self) {
        self.sep();
        self.buf.push(b'"');
    }

    #[inline]
    pub(crate) fn part(&mut self, s: &str) {
        self.escaped(s.as_bytes());
    }

    #[inline]
    pub(crate) fn close_str(&mut self) {
        self.buf.push(b'"');
        self.comma = true;
    }

    #[inline]
    pub(crate) fn kstr(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }

    #[inline]
    pub(crate) fn u64(&mut self, v: u64) {
        let mut digits = [0u8; 20];
        let n = decimal(v, &mut digits);
        self.value(&digits[digits.len() - n..]);
    }

    #[inline]
    pub(crate) fn ku64(&mut self, k: &str, v: u64) {
        self.key(k);
        self.u64(v);
    }

    #[inline]
    pub(crate) fn bool(&mut self, v: bool) {
        self.value(if v { b"true" } else { b"false" });
    }

    #[inline]
    pub(crate) fn kbool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.bool(v);
    }

    #[inline]
    pub(crate) fn null(&mut self) {
        self.value(b"null");
    }

    /// Already-valid JSON text.
    #[inline]
    pub(crate) fn raw(&mut self, json: &str) {
        self.value(json.as_bytes());
    }

    /// An object of one string field: `{"k":"v"}`.
    pub(crate) fn str_obj(&mut self, k: &str, v: &str) {
        self.obj();
        self.kstr(k, v);
        self.end_obj();
    }

    /// An array of strings: `["a","b"]`.
    pub(crate) fn strs<S: AsRef<str>>(&mut self, items: impl IntoIterator<Item = S>) {
        self.arr();
        for s in items {
            self.str(s.as_ref());
        }
        self.end_arr();
    }

    /// An array of one-field objects: `[{"k":"a"},{"k":"b"}]`.
    pub(crate) fn str_objs<S: AsRef<str>>(&mut self, k: &str, items: impl IntoIterator<Item = S>) {
        self.arr();
        for s in items {
            self.str_obj(k, s.as_ref());
        }
        self.end_arr();
    }

    /// EC2's list shape: `{"items":[{"k":"a"},{"k":"b"}]}`.
    pub(crate) fn ec2_items<S: AsRef<str>>(&mut self, k: &str, items: impl IntoIterator<Item = S>) {
        self.obj();
        self.key("items");
        self.str_objs(k, items);
        self.end_obj();
    }

    #[inline]
    fn escaped(&mut self, s: &[u8]) {
        let mut start = 0;
        for (i, &b) in s.iter().enumerate() {
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=0x1f => {
                    self.buf.extend_from_slice(&s[start..i]);
                    self.buf.extend_from_slice(b"\\u00");
                    self.buf.push(HEX[(b >> 4) as usize]);
                    self.buf.push(HEX[(b & 15) as usize]);
                    start = i + 1;
                    continue;
                }
                _ => continue,
            };
            self.buf.extend_from_slice(&s[start..i]);
            self.buf.extend_from_slice(esc);
            start = i + 1;
        }
        self.buf.extend_from_slice(&s[start..]);
    }
}

/// Writes `v` in decimal at the end of `out`; returns the number of digits.
#[inline]
fn decimal(mut v: u64, out: &mut [u8; 20]) -> usize {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return out.len() - i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_nesting() {
        let mut j = Json::with_capacity(64);
        j.obj();
        j.kstr("a", "q\"b\\c\n\u{1}é");
        j.key("b");
        j.arr();
        j.u64(0);
        j.u64(1234567890);
        j.obj();
        j.end_obj();
        j.null();
        j.end_arr();
        j.kbool("c", false);
        j.end_obj();
        let text = String::from_utf8(j.buf).unwrap();
        assert_eq!(
            text,
            "{\"a\":\"q\\\"b\\\\c\\n\\u0001é\",\"b\":[0,1234567890,{},null],\"c\":false}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a"], "q\"b\\c\n\u{1}é");
    }

    #[test]
    fn list_shapes() {
        let mut j = Json::with_capacity(64);
        j.obj();
        j.key("a");
        j.strs(["x", "y"]);
        j.key("b");
        j.ec2_items("id", ["i-1", "i-2"]);
        j.key("c");
        j.str_obj("k", "v");
        j.key("d");
        j.strs(Vec::<String>::new());
        j.end_obj();
        assert_eq!(
            String::from_utf8(j.buf).unwrap(),
            r#"{"a":["x","y"],"b":{"items":[{"id":"i-1"},{"id":"i-2"}]},"c":{"k":"v"},"d":[]}"#
        );
    }
}
