//! HTML escaping: every text a model, a tool or a user wrote reaches a page through [`esc`].

use std::fmt;

/// Text escaped for HTML element content and quoted attribute values.
pub(super) struct Esc<'a>(pub(super) &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// `text` escaped (see [`Esc`]).
pub(super) fn esc(text: &str) -> Esc<'_> {
    Esc(text)
}

/// `text` for a URL path segment: everything but unreserved characters percent-encoded.
pub(super) fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            esc(r#"<script>alert("x" & 'y')</script>"#).to_string(),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(esc("plain é").to_string(), "plain é");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("a b/<c>"), "a%20b%2F%3Cc%3E");
        assert_eq!(path_segment("s-1_2.x~"), "s-1_2.x~");
    }
}
