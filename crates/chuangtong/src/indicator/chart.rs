//! Charts as SVG, rendered on the server: no JavaScript, scales to a phone's
//! width (viewBox), and every bar or point is a link to the records behind
//! it. Sizes are computed in integers; text is escaped here because the
//! templates insert the finished SVG as it is.

use std::fmt::Write;

/// One bar or point: label, value in whole units, the text shown, and where it links.
pub struct Datum {
    pub label: String,
    pub value: i128,
    pub shown: String,
    pub href: String,
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const BAR_COLOR: &str = "#b42318";
const AXIS_COLOR: &str = "#9aa5b1";

/// Horizontal bars, one row per datum: long Chinese labels stay readable on a phone.
pub fn horizontal_bars(title: &str, data: &[Datum]) -> String {
    let row = 28;
    let label_w = 260;
    let bar_w = 360;
    let height = data.len() as i128 * row + 10;
    let max = data.iter().map(|d| d.value).max().unwrap_or(0).max(1);
    let mut svg = open_svg(label_w + bar_w + 120, height, title);
    for (i, d) in data.iter().enumerate() {
        let y = i as i128 * row + 5;
        let w = (d.value.max(0) * bar_w / max).max(1);
        let _ = write!(
            svg,
            r#"<a href="{href}"><title>{label}：{shown}</title><text x="{lx}" y="{ty}" text-anchor="end" font-size="13">{label}</text><rect x="{bx}" y="{y}" width="{w}" height="{h}" fill="{BAR_COLOR}"/><text x="{vx}" y="{ty}" font-size="12">{shown}</text></a>"#,
            href = escape(&d.href),
            label = escape(&truncate(&d.label, 18)),
            shown = escape(&d.shown),
            lx = label_w - 8,
            ty = y + 15,
            bx = label_w,
            h = row - 8,
            vx = label_w + w + 6,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Vertical columns over time (e.g. new enterprises per month).
pub fn time_series(title: &str, data: &[Datum]) -> String {
    let (width, height, top, bottom, left) = (640i128, 240i128, 20i128, 40i128, 40i128);
    let plot_h = height - top - bottom;
    let n = data.len().max(1) as i128;
    let step = (width - left - 10) / n;
    let max = data.iter().map(|d| d.value).max().unwrap_or(0).max(1);
    let mut svg = open_svg(width, height, title);
    let _ = write!(
        svg,
        r#"<line x1="{left}" y1="{y0}" x2="{x2}" y2="{y0}" stroke="{AXIS_COLOR}"/><text x="{tx}" y="{ty}" font-size="11" text-anchor="end">{max}</text>"#,
        y0 = top + plot_h,
        x2 = width - 5,
        tx = left - 4,
        ty = top + 4,
    );
    for (i, d) in data.iter().enumerate() {
        let h = d.value.max(0) * plot_h / max;
        let x = left + i as i128 * step + 4;
        let _ = write!(
            svg,
            r#"<a href="{href}"><title>{label}：{shown}</title><rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{BAR_COLOR}"/><text x="{cx}" y="{vy}" font-size="11" text-anchor="middle">{shown}</text><text x="{cx}" y="{ly}" font-size="11" text-anchor="middle">{label}</text></a>"#,
            href = escape(&d.href),
            label = escape(&d.label),
            shown = escape(&d.shown),
            y = top + plot_h - h,
            w = (step - 8).max(2),
            cx = x + (step - 8) / 2,
            vy = top + plot_h - h - 3,
            ly = height - bottom + 16,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A half-circle gauge of completion (basis points, capped at 100% for the arc).
pub fn gauge(title: &str, completion_bp: i64, behind: bool) -> String {
    let mut svg = open_svg(120, 72, title);
    let color = if behind { "#b42318" } else { "#2f7d32" };
    // The arc is drawn as a polyline of 0..=20 steps; integer trigonometry
    // from a fixed table keeps the output byte-identical everywhere.
    let steps = (completion_bp.clamp(0, 10_000) * 20 / 10_000) as usize;
    let points = |upto: usize| -> String {
        ARC[..=upto]
            .iter()
            .map(|(x, y)| format!("{},{}", 60 + x, 62 - y))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = write!(
        svg,
        r##"<polyline points="{bg}" fill="none" stroke="#d9e2ec" stroke-width="10"/><polyline points="{fg}" fill="none" stroke="{color}" stroke-width="10"/><text x="60" y="60" font-size="14" text-anchor="middle">{pct}</text>"##,
        bg = points(20),
        fg = points(steps),
        pct = super::measure::percent_text(completion_bp),
    );
    svg.push_str("</svg>");
    svg
}

/// (x, y) of a radius-48 half circle in 9° steps, from the left end to the right.
const ARC: [(i64, i64); 21] = [
    (-48, 0),
    (-47, 8),
    (-46, 15),
    (-43, 22),
    (-39, 28),
    (-34, 34),
    (-28, 39),
    (-22, 43),
    (-15, 46),
    (-8, 47),
    (0, 48),
    (8, 47),
    (15, 46),
    (22, 43),
    (28, 39),
    (34, 34),
    (39, 28),
    (43, 22),
    (46, 15),
    (47, 8),
    (48, 0),
];

fn open_svg(width: i128, height: i128, title: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{t}" class="chart"><title>{t}</title>"##,
        t = escape(title)
    )
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_link_to_their_records() {
        let svg = horizontal_bars(
            "t",
            &[Datum {
                label: "<script>".into(),
                value: 5,
                shown: "5".into(),
                href: "/b/R08/x?a=1&b=2".into(),
            }],
        );
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
        assert!(svg.contains(r#"href="/b/R08/x?a=1&amp;b=2""#));
    }

    #[test]
    fn gauge_shows_the_exact_percentage() {
        assert!(gauge("g", 22237, false).contains("222.37%"));
    }
}
