#![allow(clippy::unwrap_used)]
//! Drift statistics against SciPy's values (fixtures made by `fixtures/drift/gen_fixtures.py`).

use std::path::PathBuf;

use aigis_monitor::drift::{self, ColumnType, Correction, Options, stats};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/drift")
        .join(name)
}

fn close(got: f64, want: f64, rel: f64, what: &str) {
    let ok = (got - want).abs() <= rel * want.abs() || (got - want).abs() <= 1e-300;
    assert!(ok, "{what}: got {got:e}, SciPy {want:e}");
}

#[test]
fn the_kolmogorov_distribution_matches_scipy_in_every_region() {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("kstwo.json")).unwrap()).unwrap();
    let rows = v["kstwo"].as_array().unwrap();
    assert!(rows.len() > 150);
    let mut bad = Vec::new();
    for r in rows {
        let (n, d, want) = (
            r[0].as_u64().unwrap(),
            r[1].as_f64().unwrap(),
            r[2].as_f64().unwrap(),
        );
        let got = stats::kolmogorov_sf(n, d);
        // Above n = 1,013,904 SciPy's one-sided Smirnov tail switches to an asymptotic
        // expansion while aigis keeps summing it exactly: they differ there by up to 1e-4
        // relative, at p-values of 1e-7 and below (8.4e-5 at p = 8.5e-18).
        let rel = if n > 1_013_904 { 1e-4 } else { 1e-8 };
        if (got - want).abs() > rel * want.abs() && (got - want).abs() > 1e-300 {
            bad.push(format!("kstwo.sf({d}, {n}): got {got:e}, SciPy {want:e}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    for r in v["chi2"].as_array().unwrap() {
        let (x, k, want) = (
            r[0].as_f64().unwrap(),
            r[1].as_f64().unwrap(),
            r[2].as_f64().unwrap(),
        );
        close(
            stats::chi2_sf(x, k),
            want,
            1e-10,
            &format!("chi2.sf({x}, {k})"),
        );
    }
    for r in v["norm"].as_array().unwrap() {
        let (z, want) = (r[0].as_f64().unwrap(), r[1].as_f64().unwrap());
        close(stats::normal_sf(z), want, 1e-10, &format!("norm.sf({z})"));
    }
}

#[test]
fn every_column_matches_scipy_and_the_verdict_follows() {
    let report = drift::compare_files(
        &fixture("ref.csv"),
        &fixture("cur.csv"),
        &Options::default(),
    )
    .unwrap();
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap();
    let col = |n: &str| report.columns.iter().find(|c| c.name == n).unwrap();
    for (name, w) in want.as_object().unwrap() {
        let c = col(name);
        assert_eq!(c.test, w["test"].as_str().unwrap(), "{name}");
        if c.test == "none" {
            continue;
        }
        close(
            c.statistic.unwrap(),
            w["statistic"].as_f64().unwrap(),
            1e-9,
            &format!("{name} statistic"),
        );
        close(
            c.p_value.unwrap(),
            w["p_value"].as_f64().unwrap(),
            1e-6,
            &format!("{name} p-value"),
        );
        let e = c.effect.as_ref().unwrap();
        close(
            e.js_distance,
            w["js_distance"].as_f64().unwrap(),
            1e-9,
            &format!("{name} JS"),
        );
        close(
            e.psi,
            w["psi"].as_f64().unwrap(),
            1e-9,
            &format!("{name} PSI"),
        );
        if let Some(wn) = w.get("wasserstein_normed") {
            close(
                e.wasserstein_normed.unwrap(),
                wn.as_f64().unwrap(),
                1e-9,
                &format!("{name} W"),
            );
            assert_eq!(c.n_reference as u64, w["n_reference"].as_u64().unwrap());
            assert_eq!(c.n_current as u64, w["n_current"].as_u64().unwrap());
        }
    }
    // NaN and empty cells are left out and counted.
    assert_eq!(
        (
            col("income").missing_reference,
            col("age").missing_reference
        ),
        (21, 2)
    );
    // Types as documented.
    assert_eq!(col("plan").kind, ColumnType::Categorical);
    assert_eq!(col("refused").kind, ColumnType::Binary);
    assert_eq!(col("note").kind, ColumnType::Skip);
    assert!(col("note").reason.as_ref().unwrap().contains("free text"));
    // A constant column does not drift (and is not "insufficient").
    assert_eq!(col("constant").p_value, Some(1.0));
    // Shifted income, a new country and the 3% -> 8% refusal rate drift; age and plan do not.
    let drifted: Vec<&str> = report
        .columns
        .iter()
        .filter(|c| c.drift)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(drifted, ["income", "country", "refused"]);
    assert!(report.dataset_drift);
}

#[test]
fn a_minimum_effect_size_keeps_small_but_significant_shifts_quiet() {
    let o = Options {
        min_effect: Some(0.15),
        ..Options::default()
    };
    let report = drift::compare_files(&fixture("ref.csv"), &fixture("cur.csv"), &o).unwrap();
    let drifted: Vec<&str> = report
        .columns
        .iter()
        .filter(|c| c.drift)
        .map(|c| c.name.as_str())
        .collect();
    // income: W 0.35, country: JS 0.157 stay; refused: JS 0.095 is below 0.15.
    assert_eq!(drifted, ["income", "country"]);
    let refused = report.columns.iter().find(|c| c.name == "refused").unwrap();
    assert!(
        refused
            .reason
            .as_ref()
            .unwrap()
            .contains("below the minimum")
    );
}

#[test]
fn small_windows_get_no_p_value_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let (r, c) = (dir.path().join("r.csv"), dir.path().join("c.csv"));
    std::fs::write(&r, "x,y\n1,a\n2,b\n3,a\n").unwrap();
    std::fs::write(&c, "x,y\n9,a\n8,b\n").unwrap();
    let report = drift::compare_files(&r, &c, &Options::default()).unwrap();
    for col in &report.columns {
        assert_eq!(col.p_value, None);
        assert!(
            col.reason
                .as_ref()
                .unwrap()
                .starts_with("insufficient data"),
            "{col:?}"
        );
    }
    assert!(!report.dataset_drift);
}

#[test]
fn bad_tables_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str, text: &str| {
        let f = dir.path().join(n);
        std::fs::write(&f, text).unwrap();
        f
    };
    let good = p("good.csv", "a,b\n1,2\n");
    let cases = [
        (
            p("other.csv", "a,c\n1,2\n"),
            "only in the reference: b; only in the current: c",
        ),
        (
            p("ragged.csv", "a,b\n1,2\n3\n"),
            "found record with 1 fields",
        ),
        (p("dup.csv", "a,a\n1,2\n"), "appears twice"),
        (p("empty.csv", ""), "no header row"),
        (p("latin1.csv", "a,b\n1,\u{0}\n"), ""),
    ];
    for (file, msg) in &cases[..4] {
        let e = drift::compare_files(&good, file, &Options::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains(msg), "{e}");
    }
    std::fs::write(dir.path().join("bad.csv"), b"a,b\n1,\xff\xfe\n").unwrap();
    let e = drift::compare_files(&good, &dir.path().join("bad.csv"), &Options::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("not UTF-8"), "{e}");
    let _ = &cases[4];
}

#[test]
fn corrections_and_schemas_change_the_verdict_as_documented() {
    let mut o = Options {
        correction: Correction::None,
        alpha: 0.5,
        ..Options::default()
    };
    let r = drift::compare_files(&fixture("ref.csv"), &fixture("cur.csv"), &o).unwrap();
    // At alpha 0.5 without correction, age (p 0.36) and plan (p 0.49) drift too.
    assert_eq!(r.drifted_columns, 5);
    o.types.insert("income".into(), ColumnType::Skip);
    o.types.insert("plan".into(), ColumnType::Numeric);
    let r = drift::compare_files(&fixture("ref.csv"), &fixture("cur.csv"), &o).unwrap();
    let income = r.columns.iter().find(|c| c.name == "income").unwrap();
    assert_eq!((income.test, income.p_value), ("none", None));
    let plan = r.columns.iter().find(|c| c.name == "plan").unwrap();
    assert_eq!(plan.test, "ks");
    o.types.insert("nope".into(), ColumnType::Skip);
    let e = drift::compare_files(&fixture("ref.csv"), &fixture("cur.csv"), &o).unwrap_err();
    assert!(e.to_string().contains("`nope`"));
}

#[test]
fn parquet_tables_give_the_report_their_csv_twins_give() {
    let o = Options::default();
    let csv = drift::compare_files(&fixture("ptab_ref.csv"), &fixture("ptab_cur.csv"), &o).unwrap();
    let pq = drift::compare_files(
        &fixture("ptab_ref.parquet"),
        &fixture("ptab_cur.parquet"),
        &o,
    )
    .unwrap();
    let (csv, pq) = (
        serde_json::to_value(&csv).unwrap(),
        serde_json::to_value(&pq).unwrap(),
    );
    assert_eq!(csv, pq);
    // Mixed formats too (a reference kept as Parquet, a current window exported as CSV).
    let mixed =
        drift::compare_files(&fixture("ptab_ref.parquet"), &fixture("ptab_cur.csv"), &o).unwrap();
    assert_eq!(serde_json::to_value(&mixed).unwrap(), csv);
    // What the fixture was made to show: every type read, the two shifted columns found.
    let col = |name: &str| {
        csv["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no column {name}: {csv}"))
            .clone()
    };
    assert_eq!(col("score")["type"], "numeric");
    assert!(
        col("score")["missing_reference"].as_u64().unwrap() > 0,
        "nulls and NaN are missing"
    );
    assert_eq!(col("tier")["type"], "categorical");
    // Text with two values (`true`/`false`, from either format) is a category, as documented.
    assert_eq!(col("active")["type"], "categorical");
    assert_eq!(col("amount")["type"], "numeric");
    assert_eq!(col("since")["type"], "numeric");
    assert_eq!(col("score")["drift"], true);
    assert_eq!(col("plan")["drift"], true, "an unseen category");
    assert_eq!(col("tier")["drift"], false);
}

#[test]
fn parquet_values_read_as_text_the_csv_reader_would_hold() {
    let t = drift::read_parquet(&fixture("ptab_ref.parquet")).unwrap();
    assert_eq!(
        t.names,
        ["score", "tier", "active", "plan", "amount", "since"]
    );
    assert_eq!(t.rows(), 600);
    let csv = drift::read_csv(&fixture("ptab_ref.csv")).unwrap();
    for (i, name) in t.names.iter().enumerate() {
        for (row, (p, c)) in t.columns[i].iter().zip(csv.columns[i].iter()).enumerate() {
            let same = p == c
                || (p.parse::<f64>().ok().zip(c.parse::<f64>().ok()))
                    .is_some_and(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
            assert!(same, "{name} row {row}: parquet {p:?}, csv {c:?}");
        }
    }
    // DECIMAL values keep their scale, exactly.
    assert!(
        t.columns[4]
            .iter()
            .all(|v| v.split_once('.').is_some_and(|(_, f)| f.len() == 2))
    );
}

#[test]
fn bad_parquet_input_is_an_error_naming_the_file_and_the_problem() {
    let e = drift::read_parquet(&fixture("plist.parquet"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("plist.parquet") && e.contains("`tags") && e.contains("list"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("ptab_ref.parquet")).unwrap();
    // Truncated at every eighth of the file, and the footer's length corrupted.
    for cut in (1..8).map(|k| good.len() * k / 8) {
        let p = dir.path().join(format!("cut{cut}.parquet"));
        std::fs::write(&p, &good[..cut]).unwrap();
        let e = drift::compare_files(&p, &fixture("ptab_cur.parquet"), &Options::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("cut{cut}.parquet")), "{e}");
    }
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let p = dir.path().join("footer.parquet");
    std::fs::write(&p, &bad).unwrap();
    assert!(drift::read_parquet(&p).is_err());
    // Garbage in the middle of the data pages: an error or a table, never a panic.
    let mut noisy = good.clone();
    for i in (64..n / 2).step_by(97) {
        noisy[i] ^= 0x5a;
    }
    let p = dir.path().join("noisy.parquet");
    std::fs::write(&p, &noisy).unwrap();
    let _ = drift::read_parquet(&p);
}

#[test]
fn a_stored_profile_gives_the_report_of_its_table() {
    let o = Options::default();
    for (r, c) in [("ref.csv", "cur.csv"), ("ptab_ref.parquet", "ptab_cur.csv")] {
        let table = drift::read_table(&fixture(r)).unwrap();
        let current = drift::read_table(&fixture(c)).unwrap();
        let profile = drift::Profile::of(&table, r);
        let bytes = profile.to_bytes();
        let back = drift::Profile::from_bytes(&bytes).unwrap();
        assert_eq!(back, profile, "{r}: the file round-trips");
        let want = serde_json::to_value(drift::compare(&table, &current, &o).unwrap()).unwrap();
        let got =
            serde_json::to_value(drift::compare_profile(&back, &current, &o).unwrap()).unwrap();
        assert_eq!(got, want, "{r}");
        // Through the file, as `aigis monitor drift --reference PROFILE` reads it.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ref.aigisprof");
        std::fs::write(&p, &bytes).unwrap();
        let via_file = drift::compare_files(&p, &fixture(c), &o).unwrap();
        assert_eq!(serde_json::to_value(via_file).unwrap(), want);
        // A profile cannot stand for the current window.
        let e = drift::compare_files(&fixture(r), &p, &o)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ref.aigisprof") && e.contains("must be a table"),
            "{e}"
        );
    }
}

#[test]
fn a_profile_numeric_where_the_current_table_has_text_says_why_it_is_not_tested() {
    let dir = tempfile::tempdir().unwrap();
    let (r, c) = (dir.path().join("r.csv"), dir.path().join("c.csv"));
    let rows = |f: &dyn Fn(usize) -> String| {
        std::iter::once("x".to_string())
            .chain((0..100).map(f))
            .collect::<Vec<_>>()
            .join("\n")
    };
    std::fs::write(&r, rows(&|i| format!("{}", i % 7))).unwrap();
    std::fs::write(&c, rows(&|i| ["a", "b"][i % 2].to_string())).unwrap();
    let table = drift::read_csv(&r).unwrap();
    let profile = drift::Profile::of(&table, "r.csv");
    let current = drift::read_csv(&c).unwrap();
    let report = drift::compare_profile(&profile, &current, &Options::default()).unwrap();
    let col = &report.columns[0];
    assert!(col.p_value.is_none());
    assert!(
        col.reason
            .as_deref()
            .unwrap()
            .contains("reference table itself"),
        "{col:?}"
    );
    // The table itself compares them as text.
    let direct = drift::compare(&table, &current, &Options::default()).unwrap();
    assert!(direct.columns[0].p_value.is_some());
}

#[test]
fn hostile_profiles_are_refused_with_the_reason_never_a_panic() {
    let table = drift::read_table(&fixture("ptab_ref.parquet")).unwrap();
    let good = drift::Profile::of(&table, "ptab_ref.parquet").to_bytes();
    // Every truncation is an error.
    for cut in 0..good.len() {
        assert!(
            drift::Profile::from_bytes(&good[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    // Flipped bytes: an error or a valid profile, never a panic.
    for i in (0..good.len()).step_by(7) {
        let mut b = good.clone();
        b[i] ^= 0xa5;
        let _ = drift::Profile::from_bytes(&b);
    }
    let err = |b: &[u8]| drift::Profile::from_bytes(b).unwrap_err();
    assert!(err(b"PAR1....").contains("not an aigis drift profile"));
    let mut extra = good.clone();
    extra.push(0);
    assert!(err(&extra).contains("after the last column"));
    // A hand-made profile: one numeric column, values out of order.
    let make = |header: &str, body: &[u8]| {
        let mut b = b"AIGISDP1".to_vec();
        b.extend_from_slice(&u32::try_from(header.len()).unwrap().to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(body);
        b
    };
    let two: Vec<u8> = [2.0f64, 1.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let h = r#"{"version":1,"rows":2,"source":"","columns":[{"name":"a","kind":"numbers","missing":0,"len":2}]}"#;
    assert!(err(&make(h, &two)).contains("ascending"));
    let nan: Vec<u8> = [1.0f64, f64::NAN]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert!(err(&make(h, &nan)).contains("not finite"));
    let h3 = r#"{"version":1,"rows":3,"source":"","columns":[{"name":"a","kind":"numbers","missing":0,"len":2}]}"#;
    let ok: Vec<u8> = [1.0f64, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert!(err(&make(h3, &ok)).contains("do not make"));
    // A length that claims more than the file holds is refused before anything is allocated.
    let huge = r#"{"version":1,"rows":2,"source":"","columns":[{"name":"a","kind":"numbers","missing":0,"len":2305843009213693951}]}"#;
    assert!(err(&make(huge, &ok)).contains("truncated"));
    let text = r#"{"version":1,"rows":5,"source":"","columns":[{"name":"t","kind":"text","missing":0,"len":2}]}"#;
    let entry = |s: &str, n: u64| {
        let mut b = u32::try_from(s.len()).unwrap().to_le_bytes().to_vec();
        b.extend_from_slice(s.as_bytes());
        b.extend_from_slice(&n.to_le_bytes());
        b
    };
    let body = [entry("b", 2), entry("a", 3)].concat();
    assert!(err(&make(text, &body)).contains("distinct and ascending"));
    let body = [entry("a", 2), entry("b", 3)].concat();
    assert_eq!(
        drift::Profile::from_bytes(&make(text, &body)).unwrap().rows,
        5
    );
    let v2 = r#"{"version":2,"rows":0,"source":"","columns":[]}"#;
    assert!(err(&make(v2, b"")).contains("version 2"));
}
