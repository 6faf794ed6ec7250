//! The chart: a hand-written SVG of grouped bars, messages per server CPU-second, one panel per
//! depth, a group per framing and a bar per server.

use std::fmt::Write as _;

use crate::peer::Peer;
use crate::report::{chart_value, plural};
use crate::rounds::{Row, Scenario};

/// Width of the whole picture, in SVG units (pixels at 100 %).
const WIDTH: f64 = 1000.0;
/// Height of the whole picture.
const HEIGHT: f64 = 560.0;
/// Top edge of the plot areas: room for the title lines and the panel titles.
const TOP: f64 = 110.0;
/// Bottom edge of the plot areas (the x axes): room for the group labels and the legend.
const BOTTOM: f64 = 460.0;
/// Left and right edges of the two panels, one per depth, each with its own scale: the
/// figures at depth 16 are ten times those at depth 1, and one scale would flatten the latter.
const PANELS: [(usize, f64, f64); 2] = [(1, 110.0, 470.0), (16, 610.0, 970.0)];
/// The most bars in one group; every group uses this bar width.
const MAX_BARS: usize = 4;

/// The fill colour of `peer`'s bars: Turbine in oranges, tokio in greens.
pub(crate) fn colour(peer: Peer) -> &'static str {
    match peer {
        Peer::TurbineRaw | Peer::TurbineRawMetrics => "#d95f02",
        Peer::TurbineLines | Peer::TurbineLinesMetrics => "#fc8d62",
        Peer::MioRaw => "#7570b3",
        Peer::TokioRaw => "#1b9e77",
        Peer::TokioLines => "#66c2a5",
        Peer::BlockingRaw => "#888888",
    }
}

/// The chart for `rows`, whose figures are medians of `rounds` rounds.
pub(crate) fn svg(rows: &[Row], rounds: usize, subtitle: &str) -> String {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="30" text-anchor="middle" font-size="17" font-weight="bold">Echo servers: messages per server CPU-second (median of {}; higher is better)</text>"#,
        WIDTH / 2.0,
        plural(rounds, "round")
    );
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="52" text-anchor="middle" fill="#444444">{}</text>"##,
        WIDTH / 2.0,
        escape(subtitle)
    );
    for (depth, left, right) in PANELS {
        panel(&mut svg, rows, depth, left, right);
    }
    legend(&mut svg);
    svg.push_str("</svg>\n");
    svg
}

/// One panel: the scenarios at `depth`, between `left` and `right`, with its own y scale.
fn panel(svg: &mut String, rows: &[Row], depth: usize, left: f64, right: f64) {
    let scenarios: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|s| s.depth == depth)
        .collect();
    let top_value = scenarios
        .iter()
        .flat_map(|&s| s.peers().filter_map(move |p| chart_value(rows, s, p)))
        .fold(0.0, f64::max);
    let step = nice_step(top_value / 5.0);
    let axis_max = (top_value / step).ceil().max(1.0) * step;
    let y = |value: f64| BOTTOM - (BOTTOM - TOP) * value / axis_max;
    let in_flight = if depth == 1 {
        "1 message".to_string()
    } else {
        format!("{depth} messages")
    };
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{in_flight} in flight per connection</text>"#,
        (left + right) / 2.0,
        TOP - 20.0
    );

    // Horizontal grid lines with their labels, then the axes.
    let mut tick = 0.0;
    while tick <= axis_max * (1.0 + 1e-9) {
        let ty = y(tick);
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{ty:.1}" x2="{right}" y2="{ty:.1}" stroke="#dddddd"/>"##
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            ty + 4.0,
            short(tick)
        );
        tick += step;
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{left}" y1="{TOP}" x2="{left}" y2="{BOTTOM}" stroke="#000000"/>"##
    );
    let _ = writeln!(
        svg,
        r##"<line x1="{left}" y1="{BOTTOM}" x2="{right}" y2="{BOTTOM}" stroke="#000000"/>"##
    );
    let (title_x, mid) = (left - 62.0, (TOP + BOTTOM) / 2.0);
    let _ = writeln!(
        svg,
        r#"<text x="{title_x:.1}" y="{mid:.1}" text-anchor="middle" transform="rotate(-90 {title_x:.1} {mid:.1})">messages per server CPU-second</text>"#
    );

    // One group per scenario (framing), its bars centred in it.
    let group_width = (right - left) / scenarios.len() as f64;
    let bar_width = group_width * 0.8 / MAX_BARS as f64;
    for (g, scenario) in scenarios.into_iter().enumerate() {
        let centre = left + group_width * (g as f64 + 0.5);
        let peers: Vec<Peer> = scenario.peers().collect();
        let first = centre - bar_width * peers.len() as f64 / 2.0;
        for (b, peer) in peers.into_iter().enumerate() {
            let x = first + bar_width * b as f64;
            let label_x = x + bar_width / 2.0;
            let Some(value) = chart_value(rows, scenario, peer) else {
                let _ = writeln!(
                    svg,
                    r#"<text x="{label_x:.1}" y="{:.1}" text-anchor="middle" font-size="11">n/a</text>"#,
                    BOTTOM - 4.0
                );
                continue;
            };
            let top = y(value);
            let _ = writeln!(
                svg,
                r##"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{}" stroke="#333333" stroke-width="0.5"><title>{}, {}: {:.0}</title></rect>"##,
                x + 2.0,
                bar_width - 4.0,
                BOTTOM - top,
                colour(peer),
                peer.name(),
                scenario.label(),
                value
            );
            let _ = writeln!(
                svg,
                r#"<text x="{label_x:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
                top - 4.0,
                short(value)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{centre:.1}" y="{:.1}" text-anchor="middle">{} echo</text>"#,
            BOTTOM + 20.0,
            scenario.wire.name()
        );
    }
}

/// The legend, one entry per server, in a row under the panels.
fn legend(svg: &mut String) {
    let entry = 150.0;
    let start = (WIDTH - entry * Peer::ALL.len() as f64) / 2.0;
    let ly = HEIGHT - 50.0;
    for (i, peer) in Peer::ALL.into_iter().enumerate() {
        let x = start + entry * i as f64;
        let _ = writeln!(
            svg,
            r##"<rect x="{x:.1}" y="{ly:.1}" width="16" height="16" fill="{}" stroke="#333333" stroke-width="0.5"/>"##,
            colour(peer)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + 22.0,
            ly + 13.0,
            peer.name()
        );
    }
}

/// A round step near `raw`: 1, 2, 2.5 or 5 times a power of ten.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let fraction = raw / power;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 2.5 {
        2.5
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// A short label for a count, three significant digits at most: `850`, `325k`, `4.55M`, `5M`.
pub(crate) fn short(value: f64) -> String {
    let (scaled, unit) = if value >= 1e6 {
        (value / 1e6, "M")
    } else if value >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let decimals = if scaled >= 100.0 {
        0
    } else if scaled >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{scaled:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{unit}")
}

/// `text` with the characters XML reserves replaced by entities.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
