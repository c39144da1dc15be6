//! The `dwb` binary: parses the command line and hands over to `dwb_server::cli`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match dwb_server::cli::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
