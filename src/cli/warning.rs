//! `vigie warning-page render|publish|unpublish`: the customers' warning page of a case.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::case::{AuthorArgs, GroupConfigArgs, open_store};
use crate::case::{self, Actor, SystemClock, warning};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct WarningArgs {
    #[command(flatten)]
    pub config: GroupConfigArgs,
    #[command(flatten)]
    pub author: AuthorArgs,
    #[command(subcommand)]
    pub command: WarningCommand,
}

#[derive(Debug, Subcommand)]
pub enum WarningCommand {
    /// Print the page (or write it to --output) without publishing it.
    Render {
        #[arg(long)]
        case: i64,
        /// Language: en, fr, de or es. Default: [response] language.
        #[arg(long)]
        lang: Option<String>,
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Write the page into the web root, in each language given (the first is index.html).
    Publish {
        #[arg(long)]
        case: i64,
        /// Languages, comma-separated, such as en,fr. Default: [response] language.
        #[arg(long, value_delimiter = ',')]
        lang: Vec<String>,
    },
    /// Remove the case's pages from the web root.
    Unpublish {
        #[arg(long)]
        case: i64,
    },
}

pub fn run(args: &WarningArgs, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config)?;
    let author = case::author(args.author.author.as_deref());
    let actor = Actor {
        author: &author,
        clock: &SystemClock,
    };
    let default_language = config.response.language.clone();
    let mut out = std::io::stdout().lock();
    match &args.command {
        WarningCommand::Render { case, lang, output } => {
            let language = lang.clone().unwrap_or(default_language);
            let today = time::OffsetDateTime::now_utc().date();
            let page = warning::render(&store, config, *case, &language, today)?;
            match output {
                Some(path) => case::write_atomically(path, page.as_bytes())?,
                None => out.write_all(page.as_bytes())?,
            }
        }
        WarningCommand::Publish { case, lang } => {
            let languages = if lang.is_empty() {
                vec![default_language]
            } else {
                lang.clone()
            };
            for path in warning::publish(&store, config, &actor, *case, &languages)? {
                writeln!(out, "written {}", path.display())?;
            }
        }
        WarningCommand::Unpublish { case } => {
            for path in warning::unpublish(&store, config, &actor, *case)? {
                writeln!(out, "removed {}", path.display())?;
            }
        }
    }
    Ok(())
}
