//! Choosing the format of a scrape from its `Accept` header, as Prometheus's client libraries do
//! (Go's `expfmt.NegotiateIncludingOpenMetrics` over `goautoneg`): the media ranges sorted by
//! preference, the first one served wins, the text format otherwise.

use super::MetricsFormat;

/// One media range of an `Accept` header.
#[derive(Debug)]
struct Range<'a> {
    /// `type/subtype`, as sent (compared ignoring ASCII case).
    media: &'a str,
    /// The `version` parameter, if any.
    version: Option<&'a str>,
    /// The `q` parameter: 1 when absent.
    q: f64,
    /// How specific the range is: 2 for `type/subtype`, 1 for `type/*`, 0 for `*/*`.
    specific: u8,
}

/// The format `accept` (an `Accept` header's value) prefers; see [`MetricsFormat::negotiate`].
pub(super) fn negotiate(accept: &[u8]) -> MetricsFormat {
    let Ok(accept) = std::str::from_utf8(accept) else {
        return MetricsFormat::Prometheus;
    };
    let mut ranges: Vec<Range<'_>> = accept.split(',').filter_map(parse_range).collect();
    // Stable: among equals, the order sent stands.
    ranges.sort_by(|a, b| b.q.total_cmp(&a.q).then(b.specific.cmp(&a.specific)));
    for range in ranges.iter().filter(|r| r.q > 0.0) {
        let version = range.version.unwrap_or("");
        if range
            .media
            .eq_ignore_ascii_case("application/openmetrics-text")
            && matches!(version, "" | "1.0.0" | "0.0.1")
        {
            return MetricsFormat::OpenMetrics;
        }
        if range.media.eq_ignore_ascii_case("text/plain") && matches!(version, "" | "0.0.4") {
            return MetricsFormat::Prometheus;
        }
    }
    MetricsFormat::Prometheus
}

/// One `type/subtype;param=value;...` range; `None` if it has no media type.
fn parse_range(text: &str) -> Option<Range<'_>> {
    let mut parts = text.split(';');
    let media = parts.next()?.trim();
    let (kind, subtype) = media.split_once('/')?;
    let mut range = Range {
        media,
        version: None,
        q: 1.0,
        specific: match (kind, subtype) {
            ("*", _) => 0,
            (_, "*") => 1,
            _ => 2,
        },
    };
    for param in parts {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        match name.trim() {
            "q" => range.q = value.parse().unwrap_or(0.0),
            "version" => range.version = Some(value),
            _ => {}
        }
    }
    Some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Prometheus 2 and 3 send picks OpenMetrics; text-only scrapers, wildcards, unknown
    /// versions and refused ranges fall back to the text format.
    #[test]
    fn picks_as_prometheus_does() {
        let cases: &[(&str, MetricsFormat)] = &[
            (
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                 version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                MetricsFormat::OpenMetrics,
            ),
            (
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
                 application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;\
                 escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
                MetricsFormat::OpenMetrics,
            ),
            (
                "text/plain;version=0.0.4;q=1,*/*;q=0.1",
                MetricsFormat::Prometheus,
            ),
            (
                "text/plain;q=0.9, application/openmetrics-text",
                MetricsFormat::OpenMetrics,
            ),
            ("application/OpenMetrics-Text", MetricsFormat::OpenMetrics),
            (
                "application/openmetrics-text; version=\"1.0.0\"",
                MetricsFormat::OpenMetrics,
            ),
            (
                "application/openmetrics-text;version=2.0.0",
                MetricsFormat::Prometheus,
            ),
            (
                "application/openmetrics-text;q=0, text/plain",
                MetricsFormat::Prometheus,
            ),
            ("*/*", MetricsFormat::Prometheus),
            ("", MetricsFormat::Prometheus),
            ("garbage", MetricsFormat::Prometheus),
            (
                "application/json, application/openmetrics-text;q=0.1",
                MetricsFormat::OpenMetrics,
            ),
        ];
        for (accept, want) in cases {
            assert_eq!(negotiate(accept.as_bytes()), *want, "{accept}");
        }
        assert_eq!(negotiate(b"\xff\xfe"), MetricsFormat::Prometheus);
    }
}
