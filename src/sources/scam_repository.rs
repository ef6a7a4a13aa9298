//! The `scam_repository` source.

/// Kind of the source.
pub const SOURCE: &str = "scam_repository";

/// Runs until shutdown.
pub async fn run(ctx: super::SourceContext) {
    ctx.shutdown.cancelled().await;
}
