//! Detection cost per table row on one thread, for profilers: loads the first ROWS rows of a
//! CSV, analyses the first 300 once (so word lists and patterns are built), then every cell of
//! COLUMN (or `all`) REPS times in `run`, the function to measure. Prints nanoseconds per row.
//!
//! `cargo run --release -p aigis-data --example row_costs -- TABLE.csv [COLUMN|all] [REPS] [ROWS]`
//!
//! Instruction counts, which do not move with the host's load:
//! `valgrind --tool=callgrind --toggle-collect='row_costs::run' target/release/examples/row_costs
//! TABLE.csv all 1 2000` and divide the total by the rows (see `bench/pii_instructions.sh`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: row_costs TABLE.csv [COLUMN|all] [REPS] [ROWS]");
        return ExitCode::from(2);
    };
    let column = args.get(2).map_or("all", String::as_str);
    let number = |i: usize, default: usize| {
        args.get(i)
            .map_or(Some(default), |s| s.parse().ok())
            .filter(|n| *n > 0)
    };
    let (Some(reps), Some(rows_wanted)) = (number(3, 20), number(4, 20_000)) else {
        eprintln!("REPS and ROWS are positive numbers");
        return ExitCode::from(2);
    };
    let mut rdr = match csv::Reader::from_path(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(String::from).collect(),
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let rows: Vec<csv::StringRecord> = rdr
        .records()
        .take(rows_wanted)
        .filter_map(Result::ok)
        .collect();
    let columns: Vec<usize> = if column == "all" {
        (0..header.len()).collect()
    } else if let Some(i) = header.iter().position(|h| h == column) {
        vec![i]
    } else {
        eprintln!("{path}: no column `{column}`");
        return ExitCode::from(2);
    };
    if rows.is_empty() {
        eprintln!("{path}: no rows");
        return ExitCode::from(2);
    }
    let a = aigis_data::Analyzer::new(aigis_data::Options::default());
    for row in rows.iter().take(300) {
        for (i, h) in header.iter().enumerate() {
            let _ = a.analyze(row.get(i).unwrap_or(""), Some(h));
        }
    }
    let start = std::time::Instant::now();
    let found = run(&a, &rows, &columns, &header, reps);
    let ns = start.elapsed().as_nanos() / (reps * rows.len()) as u128;
    println!("{column}: {ns} ns/row, {found} entities");
    ExitCode::SUCCESS
}

/// The measured part: every selected cell of every row, `reps` times.
#[inline(never)]
fn run(
    a: &aigis_data::Analyzer,
    rows: &[csv::StringRecord],
    columns: &[usize],
    header: &[String],
    reps: usize,
) -> usize {
    let mut found = 0usize;
    let mut out = Vec::new();
    // Column context resolved once, as the CSV reader does.
    let fields: Vec<aigis_data::context::FieldWords> = header
        .iter()
        .map(|h| aigis_data::context::FieldWords::of(Some(h)))
        .collect();
    for _ in 0..reps {
        for row in rows {
            for &i in columns {
                out.clear();
                a.analyze_field_into(
                    std::hint::black_box(row.get(i).unwrap_or("")),
                    &fields[i],
                    &mut out,
                );
                found += out.len();
            }
        }
    }
    found
}
