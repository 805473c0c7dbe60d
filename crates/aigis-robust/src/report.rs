//! A robustness evaluation as a self-contained HTML page (no scripts, no external resources):
//! the accuracy-vs-ε curve of each attack and of their per-sample worst case drawn as an SVG
//! chart, the figures as a table, and the warnings.

use std::fmt::Write;

use aigis_core::render::html_escape as esc;

use crate::eval::Report;

/// What the page says the evaluation was.
#[derive(Debug, Clone)]
pub struct Meta<'a> {
    /// The model file.
    pub model: &'a str,
    /// The data file.
    pub data: &'a str,
    /// The budgets as given (one per curve point).
    pub eps: &'a [f64],
    /// A line describing the conventions and settings.
    pub settings: &'a str,
}

const COLOURS: &[&str] = &[
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
];

/// Render `r` as an HTML page.
pub fn html(r: &Report, m: &Meta<'_>) -> String {
    let mut o = String::new();
    o.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    o.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    o.push_str("<title>aigis robustness report</title>\n<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:60em}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f3f3f3}\
.warn{background:#fbe0c8;padding:.5em 1em;border-left:4px solid #e67e22}code{word-break:break-all}</style></head><body>\n");
    let _ = writeln!(
        o,
        "<h1>Robustness of <code>{}</code></h1>\n<p>Data <code>{}</code>: {} samples, clean accuracy <b>{:.4}</b>.</p>\n<p>{}</p>",
        esc(m.model),
        esc(m.data),
        r.samples,
        r.clean_accuracy,
        esc(m.settings)
    );
    for w in &r.warnings {
        let _ = writeln!(o, "<p class=\"warn\">{}</p>", esc(w));
    }
    o.push_str(&chart(r, m));
    // The table: one row per budget.
    let names: Vec<&str> = r
        .curve
        .first()
        .map(|p| p.attacks.keys().copied().collect())
        .unwrap_or_default();
    o.push_str("<table><tr><th>&epsilon;</th>");
    for n in &names {
        let _ = write!(o, "<th>{}</th>", esc(n));
    }
    o.push_str("<th>worst case</th><th>attack success rate</th></tr>\n");
    for (i, p) in r.curve.iter().enumerate() {
        let eps = m.eps.get(i).copied().unwrap_or(f64::from(p.eps));
        let _ = write!(o, "<tr><td>{eps}</td>");
        for n in &names {
            let _ = write!(
                o,
                "<td>{:.4}</td>",
                p.attacks.get(n).copied().unwrap_or(0.0)
            );
        }
        let _ = writeln!(
            o,
            "<td><b>{:.4}</b></td><td>{:.4}</td></tr>",
            p.robust_accuracy, p.attack_success_rate
        );
    }
    o.push_str("</table>\n<p>Robust accuracy: the share of all samples still classified correctly; the worst case counts a sample as robust only if no attack flipped it.</p>\n</body></html>\n");
    o
}

/// The accuracy-vs-ε chart: ε = 0 is the clean accuracy; one line per attack and a thick one
/// for the worst case.
fn chart(r: &Report, m: &Meta<'_>) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 360.0, 56.0, 150.0, 16.0, 44.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let max_eps = m
        .eps
        .iter()
        .copied()
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let px = |eps: f64| left + pw * eps / max_eps;
    let py = |acc: f64| top + ph * (1.0 - acc.clamp(0.0, 1.0));
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"robust accuracy against epsilon\" font-size=\"12\">"
    );
    for k in 0..=4 {
        let acc = f64::from(k) / 4.0;
        let y = py(acc);
        let _ = writeln!(
            o,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{acc:.2}</text>",
            left + pw,
            left - 6.0,
            y + 4.0
        );
    }
    for &eps in std::iter::once(&0.0).chain(m.eps) {
        let x = px(eps);
        let _ = writeln!(
            o,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{eps}</text>",
            top + ph,
            top + ph + 16.0
        );
    }
    let _ = writeln!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">&#949;</text><text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" text-anchor=\"middle\">accuracy</text>",
        left + pw / 2.0,
        h - 6.0,
        top + ph / 2.0,
        top + ph / 2.0
    );
    let names: Vec<&str> = r
        .curve
        .first()
        .map(|p| p.attacks.keys().copied().collect())
        .unwrap_or_default();
    let mut series: Vec<(String, &str, f64, Vec<f64>)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                (*n).to_string(),
                COLOURS[i % COLOURS.len()],
                1.5,
                r.curve
                    .iter()
                    .map(|p| p.attacks.get(n).copied().unwrap_or(0.0))
                    .collect(),
            )
        })
        .collect();
    series.push((
        "worst case".into(),
        "#000",
        3.0,
        r.curve.iter().map(|p| p.robust_accuracy).collect(),
    ));
    for (k, (name, colour, width, accs)) in series.iter().enumerate() {
        let mut pts = format!("{:.1},{:.1}", px(0.0), py(r.clean_accuracy));
        for (i, acc) in accs.iter().enumerate() {
            let eps = m.eps.get(i).copied().unwrap_or(0.0);
            let _ = write!(pts, " {:.1},{:.1}", px(eps), py(*acc));
        }
        let _ = writeln!(
            o,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\" points=\"{pts}\"/>"
        );
        let ly = top + 10.0 + 18.0 * k as f64;
        let lx = left + pw + 14.0;
        let _ = writeln!(
            o,
            "<line x1=\"{lx:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"{width}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            lx + 22.0,
            lx + 28.0,
            ly + 4.0,
            esc(name)
        );
    }
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::eval::Point;

    #[test]
    fn the_page_draws_every_curve_and_escapes_names() {
        let point = |eps: f32, pgd: f64, sq: f64| Point {
            eps,
            robust_accuracy: pgd.min(sq),
            attack_success_rate: 0.5,
            attacks: BTreeMap::from([("pgd", pgd), ("square", sq)]),
            seconds: BTreeMap::new(),
            gradient_masking: None,
        };
        let r = Report {
            clean_accuracy: 0.9,
            samples: 10,
            curve: vec![point(0.05, 0.6, 0.7), point(0.1, 0.2, 0.3)],
            warnings: vec!["<b>masking</b>".into()],
        };
        let page = html(
            &r,
            &Meta {
                model: "<script>alert(1)</script>.onnx",
                data: "d.npz",
                eps: &[0.05, 0.1],
                settings: "L-inf",
            },
        );
        assert!(!page.contains("<script>"), "escaped");
        assert!(page.contains("&lt;b&gt;masking"));
        // Three lines (two attacks and the worst case), each from the clean accuracy at 0.
        assert_eq!(page.matches("<polyline").count(), 3);
        let start = format!("{:.1},{:.1}", 56.0, 16.0 + 300.0 * 0.1);
        assert_eq!(page.matches(&format!("points=\"{start} ")).count(), 3);
        assert!(page.contains("<td><b>0.2000</b></td>"));
    }
}
