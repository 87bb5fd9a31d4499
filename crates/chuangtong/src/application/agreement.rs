//! How far a programme's experts agree, who scores harshly or leniently,
//! and which scores stand out — for the programme report. Scores are the
//! panel's weighted scores ×100 (integers 0–10000). Everything is computed
//! in exact rational arithmetic on i128 ([`Ratio`]); only the figures shown
//! are rounded, to basis points or ×100 fixed point, half away from zero.
//!
//! Panels differ per application (each is drawn anew), so agreement is the
//! one-way random-effects intraclass correlation ICC(1) (Shrout & Fleiss
//! 1979; McGraw & Wong 1996, "ICC(1)"), which does not need the same raters
//! on every application:
//!
//! ```text
//!   n applications, application i scored by k_i experts, N = Σ k_i
//!   S_i = Σ_j x_ij, T = Σ_i S_i
//!   SSB = Σ_i S_i²/k_i − T²/N            MSB = SSB / (n − 1)
//!   SSW = Σ_ij x_ij² − Σ_i S_i²/k_i      MSW = SSW / (N − n)
//!   k0  = (N − Σ_i k_i² / N) / (n − 1)   (= k when every panel has k experts)
//!   ICC(1) = (MSB − MSW) / (MSB + (k0 − 1)·MSW)
//! ```
//!
//! 1 means the experts of a panel always agree; 0 or below means the
//! differences between applications are no larger than between experts.
//!
//! Calibration: an expert's lenience is the mean of (their score − the
//! panel's mean) over the applications they scored; the z-score is
//! lenience / √(MSW / m) for m such scores, and |z| > 2 flags the expert as
//! harsh (严) or lenient (宽). The calibrated score of an application is the
//! mean of its scores with each expert's lenience taken off — shown next
//! to the official score, never instead of it.
//!
//! Outliers: a score further than 2·√MSW (two pooled within-panel standard
//! deviations) from its panel's mean. Both tests compare squares, so no
//! square root is taken for a decision.

use std::collections::BTreeMap;

use serde::Serialize;

/// An exact fraction n/d with d > 0, reduced; `None` from any operation that
/// would overflow i128 or divide by zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    n: i128,
    d: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Ratio {
    pub fn int(n: i128) -> Ratio {
        Ratio { n, d: 1 }
    }

    pub fn new(n: i128, d: i128) -> Option<Ratio> {
        if d == 0 {
            return None;
        }
        let g = gcd(n, d);
        let s = if d < 0 { -1 } else { 1 };
        Some(Ratio {
            n: s * n / g,
            d: s * d / g,
        })
    }

    pub fn checked_add(self, o: Ratio) -> Option<Ratio> {
        let g = gcd(self.d, o.d);
        let (a, b) = (self.d / g, o.d / g);
        Ratio::new(
            self.n.checked_mul(b)?.checked_add(o.n.checked_mul(a)?)?,
            self.d.checked_mul(b)?,
        )
    }

    pub fn checked_sub(self, o: Ratio) -> Option<Ratio> {
        self.checked_add(Ratio { n: -o.n, d: o.d })
    }

    pub fn checked_mul(self, o: Ratio) -> Option<Ratio> {
        let g1 = gcd(self.n, o.d);
        let g2 = gcd(o.n, self.d);
        Ratio::new(
            (self.n / g1).checked_mul(o.n / g2)?,
            (self.d / g2).checked_mul(o.d / g1)?,
        )
    }

    pub fn checked_div(self, o: Ratio) -> Option<Ratio> {
        if o.n == 0 {
            return None;
        }
        self.checked_mul(Ratio { n: o.d, d: o.n })
            .and_then(|r| Ratio::new(r.n, r.d))
    }

    pub fn is_zero(self) -> bool {
        self.n == 0
    }

    pub fn gt(self, o: Ratio) -> Option<bool> {
        Some(self.checked_sub(o)?.n > 0)
    }

    /// × `scale`, rounded half away from zero.
    pub fn round_scaled(self, scale: i128) -> Option<i64> {
        let n = self.n.checked_mul(scale)?;
        let q = (n.abs() * 2 + self.d) / (2 * self.d);
        i64::try_from(if n < 0 { -q } else { q }).ok()
    }

    /// "n/d", for the record.
    pub fn text(self) -> String {
        if self.d == 1 {
            self.n.to_string()
        } else {
            format!("{}/{}", self.n, self.d)
        }
    }
}

/// ⌊√v⌋ for v ≥ 0 (Newton's method on integers).
fn isqrt(v: i128) -> i128 {
    if v < 2 {
        return v.max(0);
    }
    let mut x = v;
    let mut y = (x + 1) / 2;
    while y < x {
        x = y;
        y = (x + v / x) / 2;
    }
    x
}

/// One application's panel: (expert id, score ×100).
pub type Panel = (String, Vec<(String, i64)>);

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Agreement {
    /// Applications with at least two scores, used below
    pub applications: i64,
    pub scores: i64,
    /// ICC(1) in basis points (10000 = 1); None with fewer than 2 applications or no variation
    pub icc_bp: Option<i64>,
    /// The exact value, "p/q"
    pub icc_exact: Option<String>,
    /// 很差 / 一般 / 良好 / 优秀 (Koo & Li 2016: < 0.5, < 0.75, < 0.9, ≥ 0.9)
    pub icc_label: String,
    /// √MSW ×100 points, rounded down: the typical spread inside a panel
    pub within_sd_x100: Option<i64>,
    pub experts: Vec<Calibration>,
    pub outliers: Vec<Outlier>,
    /// Application id → calibrated mean score ×100
    pub calibrated_x100: BTreeMap<String, i64>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Calibration {
    pub expert_id: String,
    pub expert_name: String,
    pub scores: i64,
    /// Mean of (own score − panel mean), ×100 points
    pub lenience_x100: i64,
    /// z ×100 (fixed point, truncated towards zero); None without spread inside panels
    pub z_x100: Option<i64>,
    /// harsh | lenient | ""
    pub flag: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Outlier {
    pub application_id: String,
    pub expert_id: String,
    pub expert_name: String,
    pub score_x100: i64,
    /// The panel's mean ×100, rounded
    pub panel_mean_x100: i64,
}

fn label(bp: Option<i64>) -> String {
    match bp {
        None => "—",
        Some(b) if b < 5000 => "很差",
        Some(b) if b < 7500 => "一般",
        Some(b) if b < 9000 => "良好",
        Some(_) => "优秀",
    }
    .into()
}

/// Agreement, calibration and outliers of complete panels. `names` gives
/// experts' names for the page. `None` only on arithmetic overflow (never
/// for real programmes: the inputs are bounded by 10000 × panel size).
pub fn analyse(panels: &[Panel], names: &BTreeMap<String, String>) -> Option<Agreement> {
    let panels: Vec<&Panel> = panels.iter().filter(|(_, s)| s.len() >= 2).collect();
    let n = panels.len() as i128;
    let big_n: i128 = panels.iter().map(|(_, s)| s.len() as i128).sum();
    let name = |x: &str| names.get(x).cloned().unwrap_or_default();
    let mut out = Agreement {
        applications: n as i64,
        scores: big_n as i64,
        icc_bp: None,
        icc_exact: None,
        icc_label: label(None),
        within_sd_x100: None,
        experts: Vec::new(),
        outliers: Vec::new(),
        calibrated_x100: BTreeMap::new(),
    };
    if n == 0 {
        return Some(out);
    }
    // Σ S_i²/k_i, T, Σ x², Σ k_i², and each panel's mean.
    let mut between = Ratio::int(0);
    let (mut t, mut sum_sq, mut sum_k2) = (0i128, 0i128, 0i128);
    let mut means = Vec::new();
    for (_, s) in &panels {
        let k = s.len() as i128;
        let si: i128 = s.iter().map(|(_, x)| *x as i128).sum();
        between = between.checked_add(Ratio::new(si * si, k)?)?;
        t += si;
        sum_sq += s.iter().map(|(_, x)| (*x as i128) * (*x as i128)).sum::<i128>();
        sum_k2 += k * k;
        means.push(Ratio::new(si, k)?);
    }
    let ssw = Ratio::int(sum_sq).checked_sub(between)?;
    let msw = if big_n > n {
        ssw.checked_div(Ratio::int(big_n - n))?
    } else {
        Ratio::int(0)
    };
    if !msw.is_zero() {
        out.within_sd_x100 = Some(isqrt(msw.n / msw.d) as i64);
    }
    if n >= 2 {
        let ssb = between.checked_sub(Ratio::new(t * t, big_n)?)?;
        let msb = ssb.checked_div(Ratio::int(n - 1))?;
        let k0 = Ratio::int(big_n)
            .checked_sub(Ratio::new(sum_k2, big_n)?)?
            .checked_div(Ratio::int(n - 1))?;
        let denominator = msb.checked_add(k0.checked_sub(Ratio::int(1))?.checked_mul(msw)?)?;
        if !denominator.is_zero() {
            let icc = msb.checked_sub(msw)?.checked_div(denominator)?;
            out.icc_bp = icc.round_scaled(10_000);
            out.icc_exact = Some(icc.text());
            out.icc_label = label(out.icc_bp);
        }
    }
    // Lenience: Σ (x − mean_i) and m per expert.
    let mut dev: BTreeMap<&str, (Ratio, i128)> = BTreeMap::new();
    for ((app, s), mean) in panels.iter().zip(&means) {
        for (x, score) in s {
            let d = Ratio::int(*score as i128).checked_sub(*mean)?;
            let e = dev.entry(x.as_str()).or_insert((Ratio::int(0), 0));
            e.0 = e.0.checked_add(d)?;
            e.1 += 1;
            // Outlier: d² > 4·MSW.
            if !msw.is_zero() && d.checked_mul(d)?.gt(Ratio::int(4).checked_mul(msw)?)? {
                out.outliers.push(Outlier {
                    application_id: app.clone(),
                    expert_id: x.clone(),
                    expert_name: name(x),
                    score_x100: *score,
                    panel_mean_x100: mean.round_scaled(1)?,
                });
            }
        }
    }
    let mut lenience: BTreeMap<&str, Ratio> = BTreeMap::new();
    for (x, (sum_d, m)) in &dev {
        let mean_d = sum_d.checked_div(Ratio::int(*m))?;
        lenience.insert(x, mean_d);
        // z² = (Σd)² / (m·MSW); flagged when z² > 4.
        let (z_x100, flag) = if msw.is_zero() || *m < 2 {
            (None, "")
        } else {
            let z2 = sum_d
                .checked_mul(*sum_d)?
                .checked_div(Ratio::int(*m).checked_mul(msw)?)?;
            let z = isqrt(z2.n.checked_mul(10_000)? / z2.d) as i64;
            let z = if sum_d.n < 0 { -z } else { z };
            let flag = if z2.gt(Ratio::int(4))? {
                if sum_d.n < 0 {
                    "harsh"
                } else {
                    "lenient"
                }
            } else {
                ""
            };
            (Some(z), flag)
        };
        out.experts.push(Calibration {
            expert_id: x.to_string(),
            expert_name: name(x),
            scores: *m as i64,
            lenience_x100: mean_d.round_scaled(1)?,
            z_x100,
            flag: flag.into(),
        });
    }
    out.experts.sort_by(|a, b| {
        a.lenience_x100
            .cmp(&b.lenience_x100)
            .then(a.expert_id.cmp(&b.expert_id))
    });
    for (app, s) in &panels {
        let mut sum = Ratio::int(0);
        for (x, score) in s {
            // Experts with a single score have no lenience estimate of their own.
            let l = if dev[x.as_str()].1 >= 2 {
                lenience[x.as_str()]
            } else {
                Ratio::int(0)
            };
            sum = sum.checked_add(Ratio::int(*score as i128).checked_sub(l)?)?;
        }
        out.calibrated_x100.insert(
            app.clone(),
            sum.checked_div(Ratio::int(s.len() as i128))?.round_scaled(1)?,
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panels(rows: &[(&str, &[(&str, i64)])]) -> Vec<Panel> {
        rows.iter()
            .map(|(a, s)| (a.to_string(), s.iter().map(|(x, v)| (x.to_string(), *v)).collect()))
            .collect()
    }

    #[test]
    fn ratios_are_exact() {
        let a = Ratio::new(1, 3).unwrap();
        let b = Ratio::new(1, 6).unwrap();
        assert_eq!(a.checked_add(b).unwrap(), Ratio::new(1, 2).unwrap());
        assert_eq!(a.checked_sub(b).unwrap().text(), "1/6");
        assert_eq!(a.checked_div(b).unwrap(), Ratio::int(2));
        assert_eq!(Ratio::new(-5, 2).unwrap().round_scaled(1), Some(-3));
        assert_eq!(Ratio::new(2, 3).unwrap().round_scaled(10_000), Some(6667));
        assert!(a.checked_div(Ratio::int(0)).is_none());
        assert_eq!(isqrt(99), 9);
        assert_eq!(isqrt(100), 10);
    }

    #[test]
    fn icc1_of_a_textbook_case() {
        // 3 applications × 2 experts: MSB = 74/3, MSW = 1/2, ICC = 145/151.
        let p = panels(&[
            ("a", &[("x", 9), ("y", 8)]),
            ("b", &[("x", 5), ("y", 6)]),
            ("c", &[("x", 1), ("y", 2)]),
        ]);
        let r = analyse(&p, &BTreeMap::new()).unwrap();
        assert_eq!(r.icc_exact.as_deref(), Some("145/151"));
        assert_eq!(r.icc_bp, Some(9603));
        assert_eq!(r.icc_label, "优秀");
        assert!(r.outliers.is_empty());
    }

    #[test]
    fn perfect_agreement_and_no_agreement() {
        let same = panels(&[("a", &[("x", 8000), ("y", 8000)]), ("b", &[("x", 6000), ("y", 6000)])]);
        let r = analyse(&same, &BTreeMap::new()).unwrap();
        assert_eq!(r.icc_bp, Some(10_000));
        assert_eq!(r.within_sd_x100, None);
        assert!(r.experts.iter().all(|e| e.flag.is_empty() && e.z_x100.is_none()));
        // Panels disagree as much inside as between: ICC ≤ 0.
        let noise = panels(&[("a", &[("x", 9000), ("y", 1000)]), ("b", &[("x", 1000), ("y", 9000)])]);
        let r = analyse(&noise, &BTreeMap::new()).unwrap();
        assert!(r.icc_bp.unwrap() < 0, "{:?}", r.icc_bp);
        assert_eq!(r.icc_label, "很差");
    }

    #[test]
    fn a_harsh_judge_is_flagged_and_calibrated_away() {
        // Experts a–d agree within ±1 point; h, on the first four panels
        // only, is 20 points below them every time.
        let mut rows = Vec::new();
        for (i, base) in [7000i64, 7500, 8000, 8500, 9000, 6500].iter().enumerate() {
            let wobble = if i % 2 == 0 { 100 } else { -100 };
            let mut s = vec![
                ("a".to_string(), base + wobble),
                ("b".to_string(), base - wobble),
                ("c".to_string(), base + wobble),
                ("d".to_string(), base - wobble),
            ];
            if i < 4 {
                s.push(("h".to_string(), base - 2000));
            }
            rows.push((format!("app{i}"), s));
        }
        let names: BTreeMap<String, String> = [("h".to_string(), "严格专家".to_string())].into();
        let r = analyse(&rows, &names).unwrap();
        let h = r.experts.iter().find(|e| e.expert_id == "h").unwrap();
        assert_eq!((h.flag.as_str(), h.expert_name.as_str()), ("harsh", "严格专家"));
        // 16 points below each panel's mean of five; SSW = 13,040,000 over 22
        // degrees of freedom, z = -6400 / sqrt(4 x MSW) = -4.156...
        assert_eq!(h.lenience_x100, -1600);
        assert_eq!(h.z_x100, Some(-415));
        assert_eq!(r.within_sd_x100, Some(769));
        assert!(r
            .experts
            .iter()
            .filter(|e| e.expert_id != "h")
            .all(|e| e.flag.is_empty()));
        assert_eq!(r.experts[0].expert_id, "h");
        // Only h's scores stand out.
        assert_eq!(r.outliers.len(), 4);
        assert!(r
            .outliers
            .iter()
            .all(|o| o.expert_id == "h" && o.score_x100 < o.panel_mean_x100));
        assert_eq!(r.outliers[0].application_id, "app0");
        assert_eq!(r.outliers[0].panel_mean_x100, 6600);
        // Calibrated: h's harshness is taken off where h sat (raw mean 66.00).
        assert_eq!(r.calibrated_x100["app0"], 6707);
        assert!(r.icc_bp.is_some());
    }
}
