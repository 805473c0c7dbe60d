//! Nanoseconds per `Analyzer::analyze` call on typical table cells and one prose record: the
//! per-cell view of detection cost that whole-file throughput hides. Run with
//! `cargo run --release -p aigis-data --example cell_costs [TABLE.csv [COLUMN]]`; with a CSV,
//! the mean cost per column over its first 50,000 rows.

fn main() {
    let a = aigis_data::Analyzer::new(aigis_data::Options::default());
    if let Some(path) = std::env::args().nth(1) {
        return per_column(&a, &path);
    }
    let cells = [
        ("id", "123456"),
        ("name", "Alice Martin"),
        ("email", "alice.martin@example.com"),
        ("phone", "+1-202-555-0147"),
        ("phone", "0299087513"),
        ("street", "123 Main Street"),
        ("city", "Berlin"),
        ("postcode", "10115"),
        ("card", "4111111111111111"),
        ("iban", "GB82WEST12345698765432"),
        ("birth_date", "1985-03-12"),
        ("balance", "1234.56"),
        ("notes", "prefers email, lives in Lyon"),
        (
            "text",
            "Contact: Dogan Stey-Albers lives in Barbados; mail alma79@example.org / tel. 08906276223. Card on file: 2701 5908 3016 6136.",
        ),
    ];
    // Warm the lazily built automata and word lists.
    let _ = a.analyze("warm up Alice 4111111111111111", Some("x"));
    for (column, text) in cells {
        let n = 100_000u32;
        let start = std::time::Instant::now();
        let mut found = 0;
        for _ in 0..n {
            found += a.analyze(std::hint::black_box(text), Some(column)).len();
        }
        let ns = start.elapsed().as_nanos() / u128::from(n);
        let shown: String = text.chars().take(32).collect();
        println!(
            "{column:<11} {shown:<33} {ns:>6} ns  {} entities",
            found / n as usize
        );
    }
}

/// Mean nanoseconds per cell for each column of the first 50,000 rows of a CSV, one thread.
fn per_column(a: &aigis_data::Analyzer, path: &str) {
    let mut rdr = match csv::Reader::from_path(path) {
        Ok(r) => r,
        Err(e) => return eprintln!("{path}: {e}"),
    };
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(String::from).collect(),
        Err(e) => return eprintln!("{path}: {e}"),
    };
    let rows: Vec<csv::StringRecord> = rdr.records().take(50_000).filter_map(Result::ok).collect();
    let _ = a.analyze("warm up Alice 4111111111111111", Some("x"));
    let mut total = 0u128;
    let only = std::env::args().nth(2);
    for (i, column) in header.iter().enumerate() {
        if only.as_ref().is_some_and(|o| o != column) {
            continue;
        }
        let start = std::time::Instant::now();
        let mut found = 0usize;
        for row in &rows {
            if let Some(cell) = row.get(i) {
                found += a.analyze(std::hint::black_box(cell), Some(column)).len();
            }
        }
        let ns = start.elapsed().as_nanos();
        total += ns;
        println!(
            "{column:<11} {:>6} ns/cell  {found} entities",
            ns / rows.len().max(1) as u128
        );
    }
    println!("row         {:>6} ns", total / rows.len().max(1) as u128);
}
