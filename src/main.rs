//! The `servicekonto` binary: parses the command line and runs the command.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    servicekonto::cli::main().await
}
