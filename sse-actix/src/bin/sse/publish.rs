//! `sse publish` (not implemented yet).

/// Arguments of `sse publish`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("`sse publish` is not implemented yet".into())
}
