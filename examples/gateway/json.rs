//! The gateway's answer: one line of JSON from the two replies.

use turbine::codec::Value;

/// The answer to `USER <id>` from the replies to `HGETALL user:<id>` (a flat array of field and
/// value) and `LRANGE orders:<id> 0 -1` (an array of strings):
/// `{"user":{"<field>":"<value>",...},"orders":["<order>",...]}`, fields sorted by name; a user
/// without a hash is `null`. `None` if a reply does not have that shape.
pub(crate) fn user_line(user: &Value, orders: &Value) -> Option<String> {
    let fields = user.as_array()?;
    let orders = orders.as_array()?;
    if fields.len() % 2 != 0 {
        return None;
    }
    let mut pairs: Vec<(&[u8], &[u8])> = fields
        .chunks(2)
        .map(|pair| Some((pair[0].as_bytes()?, pair[1].as_bytes()?)))
        .collect::<Option<_>>()?;
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut line = String::from("{\"user\":");
    if pairs.is_empty() {
        line.push_str("null");
    } else {
        line.push('{');
        for (i, (field, value)) in pairs.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            push_string(&mut line, field);
            line.push(':');
            push_string(&mut line, value);
        }
        line.push('}');
    }
    line.push_str(",\"orders\":[");
    for (i, order) in orders.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_string(&mut line, order.as_bytes()?);
    }
    line.push_str("]}");
    Some(line)
}

/// Appends `bytes` as a JSON string (RFC 8259): `"` and `\` escaped, control characters as
/// `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`. Redis values are bytes: invalid UTF-8 becomes
/// U+FFFD, since a JSON text is Unicode.
pub(crate) fn push_string(line: &mut String, bytes: &[u8]) {
    line.push('"');
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            '\u{8}' => line.push_str("\\b"),
            '\u{c}' => line.push_str("\\f"),
            c if c < ' ' => line.push_str(&format!("\\u{:04x}", c as u32)),
            c => line.push(c),
        }
    }
    line.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulks(items: &[&str]) -> Value {
        Value::Array(items.iter().map(|s| Value::bulk(s.as_bytes())).collect())
    }

    /// Fields are sorted by name, strings escaped, and a missing user is `null`.
    #[test]
    fn renders_the_spec_shape() {
        let user = bulks(&["name", "Ann \"A\"", "age", "41"]);
        let orders = bulks(&["o1", "line\nbreak"]);
        assert_eq!(
            user_line(&user, &orders).unwrap(),
            r#"{"user":{"age":"41","name":"Ann \"A\""},"orders":["o1","line\nbreak"]}"#
        );
        assert_eq!(
            user_line(&bulks(&[]), &bulks(&[])).unwrap(),
            r#"{"user":null,"orders":[]}"#
        );
    }

    /// Control characters, backslashes and invalid UTF-8 come out as valid JSON.
    #[test]
    fn escapes() {
        let mut line = String::new();
        push_string(&mut line, b"a\\b\x01\x1f\t\xff");
        assert_eq!(line, "\"a\\\\b\\u0001\\u001f\\t\u{fffd}\"");
    }

    /// A reply of another shape is refused rather than rendered wrongly.
    #[test]
    fn odd_replies_are_refused() {
        assert_eq!(user_line(&Value::Integer(1), &bulks(&[])), None);
        assert_eq!(user_line(&bulks(&["lonely"]), &bulks(&[])), None);
    }
}
