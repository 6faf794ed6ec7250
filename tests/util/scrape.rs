//! A scraper for the metrics endpoint: HTTP/1.1 requests over a blocking socket, and the
//! exposition text parsed into samples and types.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::IO_TIMEOUT;

/// One HTTP response: status, header fields (names in lower case), body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// The status code.
    pub(crate) status: u16,
    /// Header fields in order, names lower-cased.
    pub(crate) headers: Vec<(String, String)>,
    /// The body (empty for a `HEAD`).
    pub(crate) body: String,
}

impl Reply {
    /// The first header field named `name` (lower case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A keep-alive connection to the metrics endpoint.
#[derive(Debug)]
pub(crate) struct Scraper {
    /// The connection, read through a buffer.
    reader: BufReader<TcpStream>,
}

impl Scraper {
    /// Connects to the endpoint at `addr`.
    pub(crate) fn connect(addr: SocketAddr) -> Scraper {
        let stream = TcpStream::connect(addr).expect("connect to the metrics listener");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Scraper {
            reader: BufReader::new(stream),
        }
    }

    /// Sends `method path` with the extra header lines `headers` (each ending in `\r\n`) and
    /// reads the response; the connection stays open.
    pub(crate) fn request(&mut self, method: &str, path: &str, headers: &str) -> Reply {
        let request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n{headers}\r\n");
        self.reader
            .get_mut()
            .write_all(request.as_bytes())
            .expect("send the request");
        read_reply(&mut self.reader, method == "HEAD")
    }

    /// `GET /metrics` in the Prometheus text format, parsed.
    pub(crate) fn scrape(&mut self) -> Exposition {
        let reply = self.request("GET", "/metrics", "");
        assert_eq!(reply.status, 200, "{reply:?}");
        Exposition::parse(&reply.body)
    }
}

/// One request on a new connection (which asks to be closed after it).
pub(crate) fn get(addr: SocketAddr, path: &str, headers: &str) -> Reply {
    let mut scraper = Scraper::connect(addr);
    scraper.request("GET", path, &format!("Connection: close\r\n{headers}"))
}

/// `GET /metrics` on a new connection, parsed.
pub(crate) fn scrape(addr: SocketAddr) -> Exposition {
    let reply = get(addr, "/metrics", "");
    assert_eq!(reply.status, 200, "{reply:?}");
    Exposition::parse(&reply.body)
}

/// Reads one response (head, then a `Content-Length` body unless `head`).
pub(crate) fn read_reply(reader: &mut BufReader<TcpStream>, head: bool) -> Reply {
    let mut line = String::new();
    reader.read_line(&mut line).expect("read the status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("read a header line");
        let field = line.trim_end();
        if field.is_empty() {
            break;
        }
        let (name, value) = field.split_once(':').expect("a header field");
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut reply = Reply {
        status,
        headers,
        body: String::new(),
    };
    let length: usize = reply
        .header("content-length")
        .map_or(0, |v| v.parse().expect("a length"));
    if !head {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("read the body");
        reply.body = String::from_utf8(body).expect("a UTF-8 body");
    }
    reply
}

/// One sample: its name and labels as written (`name{a="1"}`) and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    /// The metric name.
    pub(crate) name: String,
    /// The labels, in order.
    pub(crate) labels: Vec<(String, String)>,
    /// The value.
    pub(crate) value: f64,
}

/// A scrape, parsed: every sample and every family's type.
#[derive(Debug, Clone, Default)]
pub(crate) struct Exposition {
    /// Each `# TYPE` line's name and type.
    pub(crate) types: HashMap<String, String>,
    /// Every sample, in order.
    pub(crate) samples: Vec<Sample>,
}

impl Exposition {
    /// Parses the text format (0.0.4 or OpenMetrics).
    pub(crate) fn parse(text: &str) -> Exposition {
        let mut exposition = Exposition::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
                exposition.types.insert(name.into(), kind.into());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            exposition.samples.push(parse_sample(line));
        }
        exposition
    }

    /// The value of the sample `name` whose labels include every one of `labels`, summed over
    /// the samples that match (every reactor, say); `None` if none does.
    pub(crate) fn sum(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|s| s.value)
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }

    /// Like [`sum`](Self::sum), panicking if nothing matches.
    pub(crate) fn total(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.sum(name, labels)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
    }

    /// Every sample that can only grow (those of counters and histograms), by name and labels.
    pub(crate) fn monotonic(&self) -> HashMap<String, f64> {
        self.samples
            .iter()
            .filter(|s| {
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| s.name.strip_suffix(suffix))
                    .unwrap_or(&s.name);
                self.types.get(&s.name).is_some_and(|t| t == "counter")
                    || self.types.get(family).is_some_and(|t| t == "histogram")
            })
            .map(|s| (format!("{}{:?}", s.name, s.labels), s.value))
            .collect()
    }
}

/// One sample line: `name{k="v",...} value` or `name value`.
fn parse_sample(line: &str) -> Sample {
    let (series, value) = line.rsplit_once(' ').expect("a sample line");
    let value = match value {
        "+Inf" => f64::INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("a value in {line:?}")),
    };
    let (name, labels) = match series.split_once('{') {
        None => (series, Vec::new()),
        Some((name, rest)) => {
            let rest = rest.strip_suffix('}').expect("labels end with }");
            let labels = rest
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                    (k.to_string(), v.trim_end_matches('"').to_string())
                })
                .collect();
            (name, labels)
        }
    };
    Sample {
        name: name.to_string(),
        labels,
        value,
    }
}
