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
        self.sep();
        self.buf.push(b'{');
        self.comma = false;
    }

    #[inline]
    pub(crate) fn end_obj(&mut self) {
        self.buf.push(b'}');
        self.comma = true;
    }

    #[inline]
    pub(crate) fn arr(&mut self) {
        self.sep();
        self.buf.push(b'[');
        self.comma = false;
    }

    #[inline]
    pub(crate) fn end_arr(&mut self) {
        self.buf.push(b']');
        self.comma = true;
    }

    /// A string value, escaped.
    #[inline]
    pub(crate) fn str(&mut self, s: &str) {
        self.sep();
        self.buf.push(b'"');
        self.escaped(s.as_bytes());
        self.buf.push(b'"');
        self.comma = true;
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
        self.sep();
        self.digits(v);
        self.comma = true;
    }

    #[inline]
    pub(crate) fn ku64(&mut self, k: &str, v: u64) {
        self.key(k);
        self.u64(v);
    }

    #[inline]
    pub(crate) fn bool(&mut self, v: bool) {
        self.sep();
        self.buf
            .extend_from_slice(if v { b"true" as &[u8] } else { b"false" });
        self.comma = true;
    }

    #[inline]
    pub(crate) fn kbool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.bool(v);
    }

    #[inline]
    pub(crate) fn null(&mut self) {
        self.sep();
        self.buf.extend_from_slice(b"null");
        self.comma = true;
    }

    /// Already-valid JSON text.
    #[inline]
    pub(crate) fn raw(&mut self, json: &str) {
        self.sep();
        self.buf.extend_from_slice(json.as_bytes());
        self.comma = true;
    }

    #[inline]
    fn digits(&mut self, mut v: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.buf.extend_from_slice(&tmp[i..]);
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
}
