//! A small HTML-to-text reducer: drops scripts, styles and comments, turns block elements into
//! line breaks, decodes entities and collapses whitespace. Linear in the input.

/// Elements whose content is not text a reader sees.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "iframe", "object",
];
/// Elements that separate paragraphs (a blank line).
const PARAGRAPHS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "dl",
    "table",
    "pre",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "main",
    "figure",
    "form",
    "title",
];
/// Elements that start a new line.
const LINES: &[&str] = &[
    "br",
    "div",
    "li",
    "tr",
    "dt",
    "dd",
    "hr",
    "body",
    "figcaption",
    "caption",
    "address",
];

/// The readable text of an HTML document.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut raw = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        push_text(&mut raw, &rest[..open]);
        rest = &rest[open..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        let opens_tag = rest[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        if !opens_tag {
            raw.push('<');
            rest = &rest[1..];
            continue;
        }
        let Some(close) = rest.find('>') else {
            // A lone `<` that opens no tag is text.
            push_text(&mut raw, rest);
            rest = "";
            break;
        };
        let tag = &rest[1..close];
        rest = &rest[close + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if name.is_empty() {
            // `<!DOCTYPE>`, `<?xml?>` and the like.
            continue;
        }
        if !closing && !tag.ends_with('/') && SKIPPED.contains(&name.as_str()) {
            rest = skip_element(rest, &name);
            continue;
        }
        if PARAGRAPHS.contains(&name.as_str()) {
            raw.push_str("\n\n");
        } else if LINES.contains(&name.as_str()) {
            raw.push('\n');
            if name == "li" && !closing {
                raw.push_str("- ");
            }
        } else if (name == "td" || name == "th") && !closing {
            raw.push(' ');
        }
    }
    push_text(&mut raw, rest);
    tidy(&raw)
}

/// Skips past `</name ...>`, or to the end when it is missing.
fn skip_element<'a>(rest: &'a str, name: &str) -> &'a str {
    let needle = format!("</{name}");
    let found = rest
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()));
    match found {
        Some(start) => {
            let after = &rest[start..];
            after.find('>').map_or("", |end| &after[end + 1..])
        }
        None => "",
    }
}

/// Appends text with entities decoded and every whitespace character as a space.
fn push_text(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        push_spaced(out, &rest[..amp]);
        rest = &rest[amp..];
        match decode_entity(rest) {
            Some((decoded, len)) => {
                out.push(if decoded.is_whitespace() {
                    ' '
                } else {
                    decoded
                });
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    push_spaced(out, rest);
}

fn push_spaced(out: &mut String, text: &str) {
    out.extend(
        text.chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c }),
    );
}

/// Decodes the entity `text` starts with: the character and the entity's length in bytes.
fn decode_entity(text: &str) -> Option<(char, usize)> {
    let end = text.bytes().take(12).position(|b| b == b';')?;
    let body = &text[1..end];
    let decoded = if let Some(number) = body.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        char::from_u32(code).unwrap_or('\u{fffd}')
    } else {
        match body {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => ' ',
            "ndash" => '–',
            "mdash" => '—',
            "hellip" => '…',
            "lsquo" => '‘',
            "rsquo" => '’',
            "ldquo" => '“',
            "rdquo" => '”',
            "laquo" => '«',
            "raquo" => '»',
            "copy" => '©',
            "reg" => '®',
            "trade" => '™',
            "deg" => '°',
            "middot" => '·',
            "bull" => '•',
            "euro" => '€',
            "pound" => '£',
            "times" => '×',
            _ => return None,
        }
    };
    Some((decoded, end + 1))
}

/// Collapses runs of spaces, trims lines and keeps at most one blank line in a row.
fn tidy(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut blank_run = 0;
    for line in raw.split('\n') {
        let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
        if words.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 1 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(&words.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_a_page_to_text() {
        let html = r#"<!DOCTYPE html>
<html><head><title>The  Title</title>
<style>body { color: red; }</style>
<script type="text/javascript">var x = "<p>not text</p>";</script>
</head>
<body>
  <!-- a comment <p>hidden</p> -->
  <h1>Heading</h1>
  <p>First   paragraph with <b>bold</b> and <a href="/x">a link</a>.</p>
  <p>Tom &amp; Jerry &lt;3 &#169; &#x1F600; &nbsp;caf&eacute; &bogus; AT&T</p>
  <ul><li>one</li><li>two</li></ul>
  <div>line<br>break</div>
  <SCRIPT>alert(1)</SCRIPT >
  <table><tr><td>a</td><td>b</td></tr></table>
</body></html>"#;
        assert_eq!(
            html_to_text(html),
            "The Title\n\nHeading\n\nFirst paragraph with bold and a link.\n\n\
             Tom & Jerry <3 © 😀 caf&eacute; &bogus; AT&T\n\n- one\n- two\n\nline\nbreak\n\n\
             a b"
        );
    }

    #[test]
    fn survives_broken_markup() {
        assert_eq!(html_to_text("a < b and c > d"), "a < b and c > d");
        assert_eq!(html_to_text("x <script>never closed"), "x");
        assert_eq!(html_to_text("x <!-- never closed"), "x");
        assert_eq!(
            html_to_text("&#xFFFFFFFF; &#99999999999;"),
            "\u{fffd} &#99999999999;"
        );
        assert_eq!(html_to_text("<p>é</p><p>ü"), "é\n\nü");
        assert_eq!(html_to_text(""), "");
        assert_eq!(html_to_text("&amp;éééééé"), "&éééééé");
        assert_eq!(html_to_text("<<<>>>"), "<<<>>>");
        assert_eq!(html_to_text("1 <2 and 3< 4"), "1 <2 and 3< 4");
    }
}
