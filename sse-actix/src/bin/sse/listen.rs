//! `sse listen` (not implemented yet).

/// Arguments of `sse listen`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), Box<dyn std::error::Error>> {
    Err("`sse listen` is not implemented yet".into())
}
