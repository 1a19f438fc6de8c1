//! `moons`: train an MLP on two moons with tapegrad and draw the results (see `moons --help`).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = moons::Args::parse();
    match moons::run(args) {
        Ok(summary) => {
            for warning in &summary.verdict.warnings {
                eprintln!("moons: warning: {warning}");
            }
            let _ = writeln!(std::io::stdout().lock(), "{summary}");
            ExitCode::from(summary.exit_code())
        }
        Err(e) => {
            eprintln!("moons: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
