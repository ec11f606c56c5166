//! `sse hub` (not implemented yet).

/// Arguments of `sse hub`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("`sse hub` is not implemented yet".into())
}
