//! The one rule tests use to name events by their sequence number.
//!
//! Plain code without dependencies: `sse-actors`' own tests include this
//! file by path, as they cannot depend on this crate (it is built on
//! `sse-actix`, above `sse-actors`).

/// The sequence number of a server's generated id (`EPOCH-SEQ`, the epoch
/// being a server's start, different each run), or any other id as it is.
pub fn seq_of(id: &str) -> &str {
    match id.rsplit_once('-') {
        Some((epoch, seq))
            if epoch.len() >= 9
                && epoch
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
                && !seq.is_empty()
                && seq.bytes().all(|b| b.is_ascii_digit()) =>
        {
            seq
        }
        _ => id,
    }
}
