//! `vigie run`: the daemon.

use std::process::ExitCode;

use clap::Args;

use super::{Cli, ConfigArgs, init_logging, load_config, runtime};

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Loads the configuration, sets up logging as it says, and runs the daemon until SIGTERM.
pub fn run(cli: &Cli, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(&args.config.config)?;
    init_logging(cli, config.daemon.log_format);
    crate::init_tls();
    runtime()?.block_on(crate::daemon::run(&args.config.config, config))?;
    Ok(ExitCode::SUCCESS)
}
