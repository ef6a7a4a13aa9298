use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = vigie::cli::Cli::parse();
    if matches!(cli.command, vigie::cli::Command::Run(_)) {
        vigie::memory::limit_arenas();
    } else {
        restore_default_sigpipe();
    }
    match vigie::cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("vigie: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Lets a one-shot command piped into `head` end quietly instead of panicking on a write to a
/// closed pipe.
fn restore_default_sigpipe() {
    // SAFETY: called once at start-up before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
