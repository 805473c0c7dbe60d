//! The `aigis` command line. Parses arguments, calls the library crates, chooses the output
//! format and maps results to exit codes: 0 clean, 1 findings at or above `--fail-on`,
//! 2 usage, I/O or operational error. No security logic lives here.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod data;
mod guard;
mod integrity;
mod monitor;
mod redteam;
mod robust;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
