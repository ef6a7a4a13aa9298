//! Sources: one module a source. Each runs as a task on the tokio runtime, reads the current
//! configuration from a watch channel (so that SIGHUP reloads reach it), keeps its cursors in
//! the store, and hands its findings to the [`Pipeline`]. A source never sends an alert itself
//! and never stops another source when it fails.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pipeline::Pipeline;

pub mod inbox;
pub mod lookalike;
pub mod nrd;

/// What every source task is started with.
#[derive(Clone)]
pub struct SourceContext {
    pub pipeline: Pipeline,
    pub config: watch::Receiver<Arc<Config>>,
    /// Cancelled on SIGTERM: the source finishes the finding in hand and returns.
    pub shutdown: CancellationToken,
}
