//! URLs as messages, logs and traces may show them.

/// `url` without its user name, password and query: what an error or a log line may show of
/// a URL that can carry credentials (an API base, an MCP server, a database).
///
/// ```
/// use argus_core::shown_url;
///
/// assert_eq!(shown_url("https://user:secret@host:8/v1/?key=x"), "https://host:8/v1");
/// assert_eq!(shown_url("not a url"), "(an invalid URL)");
/// ```
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => "(an invalid URL)".into(),
    }
}

/// `text` with every http(s) URL in it as [`shown_url`] shows it: for error texts of HTTP
/// clients, which quote the URL they failed on with its query (and sometimes credentials).
///
/// ```
/// use argus_core::shown_urls_in;
///
/// assert_eq!(
///     shown_urls_in("error sending request for url (http://h:1/mcp?token=x), when x"),
///     "error sending request for url (http://h:1/mcp), when x"
/// );
/// ```
pub fn shown_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = ["http://", "https://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        out.push_str(&rest[..start]);
        let url_len = rest[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ']' | ','))
            .unwrap_or(rest.len() - start);
        out.push_str(&shown_url(&rest[start..start + url_len]));
        rest = &rest[start + url_len..];
    }
    out.push_str(rest);
    out
}
