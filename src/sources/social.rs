//! The `social` source.

/// Kind of the source.
pub const SOURCE: &str = "social";

/// Runs until shutdown.
pub async fn run(ctx: super::SourceContext) {
    ctx.shutdown.cancelled().await;
}
