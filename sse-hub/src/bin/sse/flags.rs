//! Flags that several subcommands share, with curl's names where curl has
//! one, parsed the same way everywhere: durations (`500ms`, `2s`, `1m`),
//! byte sizes (`4194304`, `4MiB`, `64MiB`),
//! headers (`-H 'Name: value'`), data (`-d TEXT`, `-d @FILE`, `-d @-`) and
//! TLS (`--cacert`, `--cert`, `--key`).

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use awc::http::header::{HeaderName, HeaderValue};
use sse_actix::client::TlsConfig;

/// Parses a duration flag: a number with a unit, as `500ms`, `2s`, `1m`,
/// `1h30m` (humantime's format); `0` alone is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|error| format!("{text:?} is not a duration ({error}); write e.g. 500ms, 2s, 1m"))
}

/// Parses a byte-size flag: a number of bytes, alone or with a unit, as
/// `4194304`, `512KiB`, `4MiB`, `1GiB` (binary) or `4MB` (decimal).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let size: bytesize::ByteSize = text
        .trim()
        .parse()
        .map_err(|error| format!("{text:?} is not a size ({error}); write e.g. 4194304, 4MiB"))?;
    usize::try_from(size.as_u64()).map_err(|_| format!("{text:?} is too large for this machine"))
}

/// A request header, `Name: value` (curl's `-H`), checked.
#[derive(Clone, Debug)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// Parses `-H`: `Name: value`, the value trimmed.
pub fn parse_header(text: &str) -> Result<Header, String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not a header: write 'Name: value'"))?;
    let (name, value) = (name.trim(), value.trim());
    HeaderName::try_from(name)
        .map_err(|error| format!("{text:?}: invalid header name ({error})"))?;
    HeaderValue::try_from(value)
        .map_err(|error| format!("{text:?}: invalid header value ({error})"))?;
    Ok(Header {
        name: name.to_owned(),
        value: value.to_owned(),
    })
}

/// The bytes of a `-d` argument, as curl's `--data-binary` reads them: the
/// text itself, `@FILE` for a file's contents, `@-` for standard input.
pub fn read_data(arg: &str) -> Result<Vec<u8>, String> {
    match arg.strip_prefix('@') {
        None => Ok(arg.as_bytes().to_vec()),
        Some("-") => {
            let mut data = Vec::new();
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|error| format!("cannot read the data from standard input: {error}"))?;
            Ok(data)
        }
        Some(path) => std::fs::read(path).map_err(|error| format!("-d @{path}: {error}")),
    }
}

/// HTTPS: trust the bundled web PKI roots, plus any `--cacert`.
#[derive(Debug, Default, clap::Args)]
pub struct TlsFlags {
    /// Also trust the certificate authorities in this PEM file (a private
    /// CA, a self-signed server); repeatable.
    #[arg(long, value_name = "FILE")]
    cacert: Vec<PathBuf>,
    /// Trust only the `--cacert` authorities, not the bundled web PKI roots.
    #[arg(long, requires = "cacert")]
    no_web_pki_roots: bool,
    /// Present this client certificate (PEM, leaf first) to servers that
    /// ask for one; needs `--key`.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key of `--cert` (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
}

impl TlsFlags {
    /// The TLS settings these flags describe, reading the files they name.
    pub fn config(&self) -> Result<TlsConfig, String> {
        let mut tls = TlsConfig::default().web_pki_roots(!self.no_web_pki_roots);
        for path in &self.cacert {
            tls = tls
                .add_root_certificates_pem(&read(path)?)
                .map_err(|error| format!("--cacert {}: {error}", path.display()))?;
        }
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            tls = tls
                .client_certificate_pem(&read(cert)?, &read(key)?)
                .map_err(|error| format!("--cert {}: {error}", cert.display()))?;
        }
        Ok(tls)
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_humantime_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        let error = parse_duration("15").unwrap_err();
        assert!(error.contains("500ms, 2s, 1m"), "{error}");
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn sizes_take_a_byte_count_or_a_unit() {
        assert_eq!(parse_size("4194304"), Ok(4 * 1024 * 1024));
        assert_eq!(parse_size("4MiB"), Ok(4 * 1024 * 1024));
        assert_eq!(parse_size("64 MiB"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("1KB"), Ok(1000));
        let error = parse_size("lots").unwrap_err();
        assert!(error.contains("4MiB"), "{error}");
    }

    #[test]
    fn headers_are_name_colon_value() {
        let header = parse_header("Authorization:  Bearer k ").unwrap();
        assert_eq!(header.name, "Authorization");
        assert_eq!(header.value, "Bearer k");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
    }

    #[test]
    fn data_is_the_text_or_a_file() {
        assert_eq!(read_data("{}").unwrap(), b"{}");
        let dir = std::env::temp_dir().join(format!("sse-flags-{}", std::process::id()));
        std::fs::write(&dir, b"line 1\nline 2\n").unwrap();
        let from_file = read_data(&format!("@{}", dir.display()));
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(from_file.unwrap(), b"line 1\nline 2\n");
        assert!(
            read_data("@/nonexistent/file")
                .unwrap_err()
                .contains("/nonexistent/file")
        );
    }
}
