//! `sse decode` and `sse encode` (not implemented yet).

/// Arguments of `sse decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {}

/// Arguments of `sse encode`.
#[derive(Debug, clap::Args)]
pub struct EncodeArgs {}

pub fn decode(_args: DecodeArgs) -> Result<(), Box<dyn std::error::Error>> {
    Err("`sse decode` is not implemented yet".into())
}

pub fn encode(_args: EncodeArgs) -> Result<(), Box<dyn std::error::Error>> {
    Err("`sse encode` is not implemented yet".into())
}
