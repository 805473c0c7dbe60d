//! Batch drift between a reference and a current table (`aigis monitor drift`).
//!
//! Per column, a p-value test and effect sizes beside it:
//! - **numeric**: two-sample Kolmogorov–Smirnov (p-value as SciPy's `ks_2samp(method="asymp")`),
//!   normed Wasserstein distance (W₁ / max(std(reference), 0.001));
//! - **categorical**: chi-squared on the 2×K contingency table over the union of categories
//!   (SciPy's `chi2_contingency`, Yates-corrected when K = 2), so a category unseen in the
//!   reference does not force p = 0;
//! - **binary** (two values): two-proportion z-test, pooled variance.
//!
//! Every column also gets the Jensen–Shannon distance (log base 2, 0..1) and PSI over the same
//! bins (categories, or Sturges bins over reference ∪ current for numbers; empty bins count as
//! a share of 1e-4). The dataset verdict corrects for testing many columns (Bonferroni by
//! default, or Benjamini–Hochberg FDR); a minimum effect size can be required on top, since on
//! large data every p-value becomes significant. Windows with fewer than `min_rows` values get
//! `p_value: null` and a reason.
//!
//! Types are inferred: a column whose non-empty values all parse as numbers is numeric, unless
//! it holds only integers with at most 10 distinct values (categorical) or exactly 2 distinct
//! values (binary); other columns are categorical, unless more than half the values of either
//! table are distinct (free text: skipped, with the reason). A schema can name types instead.

mod parquet;
mod profile;
pub mod stats;
mod table;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

pub use parquet::{is_parquet, read_parquet};
pub use profile::{Profile, ProfileColumn, ProfileValues, is_profile, read_profile};
pub use table::{Column, Table, read_csv};

/// Reads a table: Parquet when the file starts with Parquet's magic bytes, CSV otherwise.
pub fn read_table(path: &Path) -> Result<Table, DriftError> {
    if is_parquet(path) {
        read_parquet(path)
    } else {
        read_csv(path)
    }
}

/// A column's type for drift testing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Continuous numbers: KS.
    Numeric,
    /// Categories: chi-squared.
    Categorical,
    /// Two values: two-proportion z.
    Binary,
    /// Not tested.
    Skip,
}

/// How the dataset verdict corrects for many columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Correction {
    /// A column drifts when p < α / (columns tested).
    Bonferroni,
    /// Benjamini–Hochberg at false discovery rate α.
    Fdr,
    /// A column drifts when p < α.
    None,
}

/// Settings of a drift run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Significance level.
    pub alpha: f64,
    /// Multiple-testing correction.
    pub correction: Correction,
    /// A column drifts only if its main effect size is at least this.
    pub min_effect: Option<f64>,
    /// Fewest values (per side) for a p-value.
    pub min_rows: usize,
    /// Types given by the user, by column name.
    pub types: HashMap<String, ColumnType>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            correction: Correction::Bonferroni,
            min_effect: None,
            min_rows: 30,
            types: HashMap::new(),
        }
    }
}

/// Effect sizes of one column.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Effect {
    /// W₁ / max(std(reference), 0.001); numeric columns only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wasserstein_normed: Option<f64>,
    /// Jensen–Shannon distance, log base 2 (0 = same, 1 = disjoint).
    pub js_distance: f64,
    /// Population stability index (natural log).
    pub psi: f64,
}

/// The result for one column.
#[derive(Clone, Debug, Serialize)]
pub struct ColumnReport {
    /// Column name.
    pub name: String,
    /// Type used.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// `ks`, `chi2`, `z` or `none`.
    pub test: &'static str,
    /// The test statistic (KS D, chi-squared, z).
    pub statistic: Option<f64>,
    /// The p-value; `null` when the column was not tested (see `reason`).
    pub p_value: Option<f64>,
    /// Whether this column drifted (after the correction and the minimum effect).
    pub drift: bool,
    /// Effect sizes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    /// The effect size `min_effect` is compared with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect_metric: Option<&'static str>,
    /// Values used from the reference and the current table.
    pub n_reference: usize,
    /// See `n_reference`.
    pub n_current: usize,
    /// Empty cells (and NaN, inf) left out, per side.
    pub missing_reference: usize,
    /// See `missing_reference`.
    pub missing_current: usize,
    /// Why there is no p-value, or other notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The whole result (DESIGN.md §3 plus the settings and effect sizes).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Per column, in the reference's order.
    pub columns: Vec<ColumnReport>,
    /// Whether any column drifted.
    pub dataset_drift: bool,
    /// Columns that drifted.
    pub drifted_columns: usize,
    /// Columns with a p-value.
    pub tested_columns: usize,
    /// α.
    pub alpha: f64,
    /// The correction.
    pub correction: Correction,
    /// The minimum effect size, if any.
    pub min_effect: Option<f64>,
    /// The base of the logarithm in `js_distance`.
    pub js_log_base: u32,
}

/// Errors of a drift run.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// A table could not be read.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The tables do not have the same columns.
    #[error("{0}")]
    Columns(String),
}

/// Parsed values of one column of one table.
enum Values<'a> {
    Numbers(Vec<f64>),
    Text(Vec<&'a str>),
    /// Distinct text values with their counts (from a stored profile).
    Counted(&'a [(String, u64)]),
}

impl Values<'_> {
    /// Values (not distinct ones).
    fn count(&self) -> usize {
        match self {
            Values::Numbers(n) => n.len(),
            Values::Text(t) => t.len(),
            Values::Counted(c) => c.iter().fold(0usize, |a, (_, n)| {
                a.saturating_add(usize::try_from(*n).unwrap_or(usize::MAX))
            }),
        }
    }

    /// Whether more than half the values are distinct (free text), for 20 values or more.
    fn mostly_distinct(&self) -> bool {
        match self {
            Values::Text(t) if t.len() >= 20 => {
                let seen: std::collections::HashSet<&str> = t.iter().copied().collect();
                seen.len() * 2 > t.len()
            }
            Values::Counted(c) => {
                let n = self.count();
                n >= 20 && c.len().saturating_mul(2) > n
            }
            _ => false,
        }
    }

    /// Text values with their weights (each value once, or a profile's counts).
    fn weighted(&self) -> Box<dyn Iterator<Item = (&str, f64)> + '_> {
        match self {
            Values::Text(t) => Box::new(t.iter().map(|s| (*s, 1.0))),
            Values::Counted(c) => Box::new(c.iter().map(|(s, n)| (s.as_str(), *n as f64))),
            Values::Numbers(_) => Box::new(std::iter::empty()),
        }
    }
}

struct Side<'a> {
    values: Values<'a>,
    missing: usize,
    /// The numbers are sorted already (a profile's).
    sorted: bool,
}

/// The reference side of one column: a table's cells, or a stored profile's.
#[derive(Clone, Copy)]
enum Ref<'a> {
    Table(&'a Column),
    Profile(&'a ProfileColumn),
}

fn profile_side(p: &ProfileColumn) -> Side<'_> {
    match &p.values {
        ProfileValues::Numbers(v) => Side {
            values: Values::Numbers(v.clone()),
            missing: p.missing,
            sorted: true,
        },
        ProfileValues::Text(c) => Side {
            values: Values::Counted(c),
            missing: p.missing,
            sorted: false,
        },
    }
}

/// What a non-empty cell holds.
enum Cell {
    Number(f64),
    /// NaN or an infinity: left out and counted as missing.
    NonFinite,
    Text,
}

fn parse_number(s: &str) -> Cell {
    if let Some(v) = parse_plain_decimal(s.as_bytes()) {
        return Cell::Number(v);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Cell::Number(v),
        Ok(_) => Cell::NonFinite,
        Err(_) => Cell::Text,
    }
}

/// `[-]digits[.digits]` with at most 15 significant digits, the shape of nearly every number
/// in a data export: the digits as an exact integer divided by an exact power of ten, which
/// IEEE division rounds correctly — the same value `str::parse` gives (Clinger's fast path).
/// `None` for anything else, which then takes the general parser.
fn parse_plain_decimal(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    // Fifteen digits and a point at most.
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut frac: Option<usize> = None;
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => mantissa = mantissa * 10 + u64::from(c - b'0'),
            b'.' if frac.is_none() && i > 0 && i + 1 < digits.len() => frac = Some(i),
            _ => return None,
        }
    }
    if frac.is_none() && digits.len() > 15 {
        return None;
    }
    let scale = frac.map_or(0, |i| digits.len() - i - 1);
    // At most 15 digits: below 2^53, so the integer is exact.
    let v = mantissa as f64 / POW10[scale];
    Some(if neg { -v } else { v })
}

fn parse_side(cells: &Column) -> Side<'_> {
    let mut nums = Vec::with_capacity(cells.len());
    let mut missing = 0;
    let mut numeric = true;
    for c in cells.iter() {
        let c = c.trim();
        if c.is_empty() {
            missing += 1;
            continue;
        }
        match parse_number(c) {
            Cell::Number(v) => nums.push(v),
            Cell::NonFinite => missing += 1,
            Cell::Text => {
                numeric = false;
                break;
            }
        }
    }
    if numeric {
        return Side {
            values: Values::Numbers(nums),
            missing,
            sorted: false,
        };
    }
    text_side(cells)
}

fn text_side(cells: &Column) -> Side<'_> {
    let mut text = Vec::with_capacity(cells.len());
    let mut missing = 0;
    for c in cells.iter() {
        let t = c.trim();
        if t.is_empty() {
            missing += 1;
        } else {
            text.push(t);
        }
    }
    Side {
        values: Values::Text(text),
        missing,
        sorted: false,
    }
}

/// Sorts finite numbers: an LSD radix sort on their order-preserving bit patterns (four
/// 16-bit passes) for long columns, the standard sort for short ones.
fn sort_numbers(mut v: Vec<f64>) -> Vec<f64> {
    if v.len() < 50_000 {
        v.sort_unstable_by(f64::total_cmp);
        return v;
    }
    let key = |x: f64| {
        let b = x.to_bits();
        if b >> 63 == 1 { !b } else { b | (1 << 63) }
    };
    let mut keys: Vec<u64> = v.iter().map(|&x| key(x)).collect();
    let mut tmp = vec![0u64; keys.len()];
    // Six 11-bit passes (the counts stay in L1); a pass whose digit is the same in every key
    // (the exponent bits of similar numbers) is skipped.
    for pass in 0..6 {
        let shift = pass * 11;
        let mut count = [0usize; 2048];
        for k in &keys {
            count[((k >> shift) & 0x7ff) as usize] += 1;
        }
        if count.contains(&keys.len()) {
            continue;
        }
        let mut sum = 0;
        for c in &mut count {
            let n = *c;
            *c = sum;
            sum += n;
        }
        for &k in &keys {
            let d = ((k >> shift) & 0x7ff) as usize;
            tmp[count[d]] = k;
            count[d] += 1;
        }
        std::mem::swap(&mut keys, &mut tmp);
    }
    for (x, k) in v.iter_mut().zip(keys) {
        let b = if k >> 63 == 1 { k & !(1 << 63) } else { !k };
        *x = f64::from_bits(b);
    }
    v
}

/// The distinct values of two sorted samples, in order, each with how many values of either
/// sample are at most it (the two empirical distribution functions, unnormalised).
fn steps<'a>(a: &'a [f64], b: &'a [f64]) -> impl Iterator<Item = (f64, usize, usize)> + 'a {
    let (mut i, mut j) = (0usize, 0usize);
    std::iter::from_fn(move || {
        let x = match (a.get(i), b.get(j)) {
            (Some(&u), Some(&v)) => u.min(v),
            (Some(&u), None) => u,
            (None, Some(&v)) => v,
            (None, None) => return None,
        };
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        Some((x, i, j))
    })
}

/// Distinct values of two sorted samples together, counting no further than `cap + 1`.
fn distinct_upto(a: &[f64], b: &[f64], cap: usize) -> usize {
    steps(a, b).take(cap + 1).count()
}

/// Counts per value of two sorted samples, over the union of values.
fn value_counts(a: &[f64], b: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mut pi, mut pj) = (0usize, 0usize);
    steps(a, b)
        .map(|(_, i, j)| {
            let c = ((i - pi) as f64, (j - pj) as f64);
            (pi, pj) = (i, j);
            c
        })
        .unzip()
}

/// KS statistic D of two sorted samples.
fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    steps(a, b)
        .map(|(_, i, j)| (i as f64 / na - j as f64 / nb).abs())
        .fold(0.0, f64::max)
}

/// W₁ between two sorted samples: the integral of |F_a − F_b|.
fn wasserstein(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut px, mut pi, mut pj) = (a[0].min(b[0]), 0usize, 0usize);
    let mut total = 0.0;
    for (x, i, j) in steps(a, b) {
        // Between the previous value and this one both functions are flat.
        total += (pi as f64 / na - pj as f64 / nb).abs() * (x - px);
        (px, pi, pj) = (x, i, j);
    }
    total
}

fn std_dev(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt()
}

/// Jensen–Shannon distance (base 2) and PSI of two count vectors over the same bins.
fn js_and_psi(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (sa, sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
    let mut js = 0.0;
    let mut psi = 0.0;
    for (x, y) in a.iter().zip(b) {
        let (p, q) = (x / sa, y / sb);
        let m = 0.5 * (p + q);
        if p > 0.0 {
            js += 0.5 * p * (p / m).log2();
        }
        if q > 0.0 {
            js += 0.5 * q * (q / m).log2();
        }
        let (p, q) = (p.max(1e-4), q.max(1e-4));
        psi += (p - q) * (p / q).ln();
    }
    (js.max(0.0).sqrt(), psi)
}

/// Sturges bins over both samples (sorted): counts per side.
fn binned(a: &[f64], b: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let lo = a[0].min(b[0]);
    let hi = a[a.len() - 1].max(b[b.len() - 1]);
    let n = (a.len() + b.len()) as f64;
    // NumPy's `bins="sturges"`: ⌈log₂ n + 1⌉ equal bins.
    let bins = ((n.log2() + 1.0).ceil() as usize).max(1);
    let width = (hi - lo) / bins as f64;
    let count = |s: &[f64]| {
        let mut c = vec![0.0; bins];
        for &x in s {
            let k = if width > 0.0 {
                (((x - lo) / width) as usize).min(bins - 1)
            } else {
                0
            };
            c[k] += 1.0;
        }
        c
    };
    (count(a), count(b))
}

fn category_counts<'a>(
    a: impl Iterator<Item = (&'a str, f64)>,
    b: impl Iterator<Item = (&'a str, f64)>,
) -> (Vec<f64>, Vec<f64>) {
    let mut map: HashMap<&str, (f64, f64)> = HashMap::new();
    // Weights are whole counts, so adding a count at once equals adding ones one by one.
    for (x, w) in a {
        map.entry(x).or_default().0 += w;
    }
    for (x, w) in b {
        map.entry(x).or_default().1 += w;
    }
    // Sorted by label, so sums run in the same order every time.
    let sorted: BTreeMap<&str, (f64, f64)> = map.into_iter().collect();
    sorted.values().copied().unzip()
}

/// `chi2_contingency` on the 2×K table (Yates when K = 2): statistic and p-value.
fn chi2_contingency(a: &[f64], b: &[f64]) -> (f64, f64) {
    let k = a.len();
    if k < 2 {
        return (0.0, 1.0);
    }
    let (sa, sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
    let total = sa + sb;
    let mut stat = 0.0;
    for (x, y) in a.iter().zip(b) {
        let col = x + y;
        for (obs, row) in [(*x, sa), (*y, sb)] {
            let exp = row * col / total;
            let mut o = obs;
            if k == 2 {
                let diff = exp - o;
                o += diff.signum() * diff.abs().min(0.5);
            }
            stat += (o - exp) * (o - exp) / exp;
        }
    }
    (stat, stats::chi2_sf(stat, (k - 1) as f64))
}

/// Two-proportion z-test (pooled) of the share of `positive` in each side.
fn two_proportion_z(pos_a: f64, n_a: f64, pos_b: f64, n_b: f64) -> (f64, f64) {
    let pooled = (pos_a + pos_b) / (n_a + n_b);
    let se = (pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)).sqrt();
    if se == 0.0 {
        return (0.0, 1.0);
    }
    let z = (pos_a / n_a - pos_b / n_b) / se;
    (z, 2.0 * stats::normal_sf(z.abs()))
}

fn is_integer(x: f64) -> bool {
    x.fract() == 0.0
}

/// Tests one column. `drift` is decided later, over all columns.
fn analyse(
    name: &str,
    given: Option<ColumnType>,
    rc: Ref<'_>,
    cc: &Column,
    o: &Options,
) -> ColumnReport {
    let mut r = match rc {
        Ref::Table(col) => parse_side(col),
        Ref::Profile(p) => profile_side(p),
    };
    let mut c = parse_side(cc);
    // Numbers on one side only: both are read as text (categories compare as written).
    let mut unreadable = None;
    match (&r.values, &c.values) {
        (Values::Numbers(_), Values::Text(_)) => match rc {
            Ref::Table(col) => r = text_side(col),
            // A profile keeps a numeric column's numbers, not how they were written.
            Ref::Profile(_) => {
                unreadable = Some(
                    "the reference profile holds numbers here and the current table text: \
                     compare against the reference table itself"
                        .to_string(),
                );
            }
        },
        (Values::Text(_) | Values::Counted(_), Values::Numbers(_)) => c = text_side(cc),
        _ => {}
    }
    let mut out = ColumnReport {
        name: name.to_string(),
        kind: ColumnType::Skip,
        test: "none",
        statistic: None,
        p_value: None,
        drift: false,
        effect: None,
        effect_metric: None,
        n_reference: 0,
        n_current: 0,
        missing_reference: r.missing,
        missing_current: c.missing,
        reason: None,
    };
    if let Some(reason) = unreadable {
        out.reason = Some(reason);
        return out;
    }
    // Numbers on both sides, unless the user said otherwise. The parsed numbers are moved
    // into the sort, not copied (two columns' worth of memory); a profile's are sorted.
    let sorted = (r.sorted, c.sorted);
    let numbers = match (&mut r.values, &mut c.values) {
        (Values::Numbers(a), Values::Numbers(b)) => {
            let (a, b) = (std::mem::take(a), std::mem::take(b));
            let sort = |v: Vec<f64>, done: bool| if done { v } else { sort_numbers(v) };
            Some(rayon::join(|| sort(a, sorted.0), || sort(b, sorted.1)))
        }
        _ => None,
    };
    let kind = given.unwrap_or_else(|| {
        if let Some((a, b)) = &numbers {
            let distinct = distinct_upto(a, b, 10);
            if distinct == 2 {
                ColumnType::Binary
            } else if distinct <= 10 && a.iter().chain(b).all(|x| is_integer(*x)) {
                ColumnType::Categorical
            } else {
                ColumnType::Numeric
            }
        } else {
            // Free text: more than half the values of either table are distinct.
            if r.values.mostly_distinct() || c.values.mostly_distinct() {
                ColumnType::Skip
            } else {
                ColumnType::Categorical
            }
        }
    });
    out.kind = kind;
    if kind == ColumnType::Skip {
        out.reason = Some(if given.is_some() {
            "skipped by the schema".into()
        } else {
            "free text (more than half the values are distinct): not tested".into()
        });
        return out;
    }
    if kind == ColumnType::Numeric && numbers.is_none() {
        out.reason = Some("declared numeric but holds values that are not numbers".into());
        return out;
    }
    let (n_r, n_c) = match &numbers {
        Some((a, b)) => (a.len(), b.len()),
        None => (r.values.count(), c.values.count()),
    };
    out.n_reference = n_r;
    out.n_current = n_c;
    // At least one value a side, whatever the options say: the tests below index both.
    if n_r < o.min_rows.max(1) || n_c < o.min_rows.max(1) {
        out.reason = Some(format!(
            "insufficient data: {n_r} reference and {n_c} current values (at least {} each needed)",
            o.min_rows.max(1)
        ));
        return out;
    }
    match kind {
        ColumnType::Numeric => {
            let (a, b) = numbers
                .as_ref()
                .map(|(a, b)| (a.as_slice(), b.as_slice()))
                .unwrap_or_default();
            let d = ks_statistic(a, b);
            out.test = "ks";
            out.statistic = Some(d);
            out.p_value = Some(stats::ks_2samp_p(d, a.len() as u64, b.len() as u64));
            let (ca, cb) = binned(a, b);
            let (js, psi) = js_and_psi(&ca, &cb);
            out.effect = Some(Effect {
                wasserstein_normed: Some(wasserstein(a, b) / std_dev(a).max(0.001)),
                js_distance: js,
                psi,
            });
            out.effect_metric = Some("wasserstein_normed");
        }
        ColumnType::Categorical | ColumnType::Binary => {
            // Categories: each distinct number when both sides are numbers, else the text.
            let (ca, cb) = match (&numbers, &r.values, &c.values) {
                (Some((a, b)), _, _) => value_counts(a, b),
                (None, ta, tb) => category_counts(ta.weighted(), tb.weighted()),
            };
            let (js, psi) = js_and_psi(&ca, &cb);
            out.effect = Some(Effect {
                wasserstein_normed: None,
                js_distance: js,
                psi,
            });
            out.effect_metric = Some("js_distance");
            if kind == ColumnType::Binary && ca.len() == 2 {
                let (z, p) = two_proportion_z(ca[1], n_r as f64, cb[1], n_c as f64);
                out.test = "z";
                out.statistic = Some(z);
                out.p_value = Some(p);
            } else {
                if kind == ColumnType::Binary {
                    out.reason = Some(format!("{} distinct values: chi-squared used", ca.len()));
                    out.kind = ColumnType::Categorical;
                }
                let (stat, p) = chi2_contingency(&ca, &cb);
                out.test = "chi2";
                out.statistic = Some(stat);
                out.p_value = Some(p);
            }
        }
        ColumnType::Skip => {}
    }
    out
}

fn main_effect(c: &ColumnReport) -> Option<f64> {
    let e = c.effect.as_ref()?;
    match c.effect_metric? {
        "wasserstein_normed" => e.wasserstein_normed,
        _ => Some(e.js_distance),
    }
}

/// Compares `current` with `reference`.
pub fn compare(reference: &Table, current: &Table, o: &Options) -> Result<Report, DriftError> {
    let refs: Vec<Ref<'_>> = reference.columns.iter().map(Ref::Table).collect();
    compare_refs(&reference.names, &refs, current, o)
}

/// Compares `current` with a stored reference profile: the report the profiled table gives.
pub fn compare_profile(
    reference: &Profile,
    current: &Table,
    o: &Options,
) -> Result<Report, DriftError> {
    let names: Vec<String> = reference.columns.iter().map(|c| c.name.clone()).collect();
    let refs: Vec<Ref<'_>> = reference.columns.iter().map(Ref::Profile).collect();
    compare_refs(&names, &refs, current, o)
}

fn compare_refs(
    names: &[String],
    refs: &[Ref<'_>],
    current: &Table,
    o: &Options,
) -> Result<Report, DriftError> {
    let only_ref: Vec<&str> = names
        .iter()
        .filter(|n| !current.names.contains(n))
        .map(String::as_str)
        .collect();
    let only_cur: Vec<&str> = current
        .names
        .iter()
        .filter(|n| !names.contains(n))
        .map(String::as_str)
        .collect();
    if !only_ref.is_empty() || !only_cur.is_empty() {
        let list = |v: &[&str]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        return Err(DriftError::Columns(format!(
            "the tables have different columns: only in the reference: {}; only in the current: {}",
            list(&only_ref),
            list(&only_cur)
        )));
    }
    if let Some(unknown) = o.types.keys().find(|k| !names.contains(k)) {
        return Err(DriftError::Columns(format!(
            "the schema names column `{unknown}`, which the tables do not have"
        )));
    }
    let mut columns: Vec<ColumnReport> = names
        .par_iter()
        .zip(refs.par_iter())
        .enumerate()
        .map(|(i, (name, r))| {
            let j = current.names.iter().position(|n| n == name).unwrap_or(i);
            analyse(name, o.types.get(name).copied(), *r, &current.columns[j], o)
        })
        .collect();
    decide(&mut columns, o);
    let drifted = columns.iter().filter(|c| c.drift).count();
    Ok(Report {
        dataset_drift: drifted > 0,
        drifted_columns: drifted,
        tested_columns: columns.iter().filter(|c| c.p_value.is_some()).count(),
        columns,
        alpha: o.alpha,
        correction: o.correction,
        min_effect: o.min_effect,
        js_log_base: 2,
    })
}

/// Sets each column's `drift` from the corrected p-values and the minimum effect.
fn decide(columns: &mut [ColumnReport], o: &Options) {
    let tested: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].p_value.is_some())
        .collect();
    let m = tested.len();
    if m == 0 {
        return;
    }
    let p = |i: usize| columns[i].p_value.unwrap_or(1.0);
    let significant: Vec<usize> = match o.correction {
        Correction::None => tested.iter().copied().filter(|&i| p(i) < o.alpha).collect(),
        Correction::Bonferroni => tested
            .iter()
            .copied()
            .filter(|&i| p(i) < o.alpha / m as f64)
            .collect(),
        Correction::Fdr => {
            // Benjamini–Hochberg: reject the k smallest, k the largest rank with p ≤ kα/m.
            let mut order = tested.clone();
            order.sort_by(|&a, &b| p(a).total_cmp(&p(b)));
            let k = order
                .iter()
                .enumerate()
                .filter(|(r, i)| p(**i) <= (*r + 1) as f64 * o.alpha / m as f64)
                .map(|(r, _)| r + 1)
                .max()
                .unwrap_or(0);
            order[..k].to_vec()
        }
    };
    for i in significant {
        let big_enough = match (o.min_effect, main_effect(&columns[i])) {
            (Some(min), Some(e)) => e >= min,
            _ => true,
        };
        columns[i].drift = big_enough;
        if !big_enough {
            columns[i].reason = Some(format!(
                "significant, but the effect size is below the minimum of {}",
                o.min_effect.unwrap_or_default()
            ));
        }
    }
}

/// `[columns]` of a schema file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Schema {
    columns: HashMap<String, ColumnType>,
}

/// Reads a schema file: `[columns]` with `name = "numeric" | "categorical" | "binary" | "skip"`.
pub fn read_schema(path: &Path) -> Result<HashMap<String, ColumnType>, DriftError> {
    let err = |message: String| DriftError::Read {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    toml::from_str::<Schema>(&text)
        .map(|s| s.columns)
        .map_err(|e| err(e.to_string()))
}

/// Reads both tables (CSV or Parquet, each; the reference may be a stored profile) and
/// compares them.
pub fn compare_files(reference: &Path, current: &Path, o: &Options) -> Result<Report, DriftError> {
    if is_profile(current) {
        return Err(DriftError::Read {
            path: current.display().to_string(),
            message: "a profile stands for a reference; the current window must be a table (CSV or Parquet)".into(),
        });
    }
    if is_profile(reference) {
        let (r, c) = rayon::join(|| read_profile(reference), || read_table(current));
        return compare_profile(&r?, &c?, o);
    }
    let (r, c) = rayon::join(|| read_table(reference), || read_table(current));
    compare(&r?, &c?, o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_decimal_path_gives_the_standard_parsers_values() {
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let digits = (rng % 15) as usize + 1;
            let point = (rng >> 8) as usize % (digits + 1);
            let mut s = String::new();
            if rng & 1 == 1 {
                s.push('-');
            }
            for k in 0..digits {
                if k == point && k > 0 {
                    s.push('.');
                }
                s.push(char::from(b'0' + ((rng >> (k * 3 + 16)) % 10) as u8));
            }
            let want: f64 = s.parse().unwrap();
            if let Some(got) = parse_plain_decimal(s.as_bytes()) {
                assert_eq!(got.to_bits(), want.to_bits(), "{s}");
            }
        }
        for bad in [
            "",
            "-",
            ".5",
            "5.",
            "1e5",
            "1.2.3",
            "12345678901234567",
            "9999999999999999",
            "abc",
            "+1",
        ] {
            assert_eq!(parse_plain_decimal(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn radix_sort_orders_like_the_standard_sort() {
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let v: Vec<f64> = (0..120_000)
            .map(|i| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                match i % 4 {
                    0 => (rng as f64 / u64::MAX as f64 - 0.5) * 1e6,
                    1 => -((rng % 1000) as f64),
                    2 => 0.0,
                    _ => f64::from_bits(rng >> 2),
                }
            })
            .collect();
        let mut want = v.clone();
        want.sort_unstable_by(f64::total_cmp);
        let got = sort_numbers(v);
        assert_eq!(
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn ks_and_wasserstein_on_small_samples() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [3.0, 4.0, 5.0, 6.0];
        assert!((ks_statistic(&a, &b) - 0.5).abs() < 1e-12);
        assert!((wasserstein(&a, &b) - 2.0).abs() < 1e-12);
        assert!(ks_statistic(&a, &a).abs() < 1e-15);
        assert!(wasserstein(&a, &a).abs() < 1e-15);
    }

    #[test]
    fn benjamini_hochberg_rejects_up_to_the_largest_passing_rank() {
        let mk = |p: f64| ColumnReport {
            name: String::new(),
            kind: ColumnType::Numeric,
            test: "ks",
            statistic: Some(0.0),
            p_value: Some(p),
            drift: false,
            effect: None,
            effect_metric: None,
            n_reference: 100,
            n_current: 100,
            missing_reference: 0,
            missing_current: 0,
            reason: None,
        };
        // m = 4, α = 0.05: thresholds 0.0125, 0.025, 0.0375, 0.05. Rank 3 (0.03) passes, so
        // ranks 1-3 are rejected though rank 2 (0.027) is above its own threshold.
        let mut cols: Vec<_> = [0.01, 0.027, 0.03, 0.5].into_iter().map(mk).collect();
        let o = Options {
            correction: Correction::Fdr,
            ..Options::default()
        };
        decide(&mut cols, &o);
        assert_eq!(
            cols.iter().map(|c| c.drift).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        let mut cols: Vec<_> = [0.01, 0.027, 0.03, 0.5].into_iter().map(mk).collect();
        decide(&mut cols, &Options::default());
        assert_eq!(
            cols.iter().map(|c| c.drift).collect::<Vec<_>>(),
            [true, false, false, false]
        );
    }
}
