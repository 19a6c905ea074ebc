//! Reading what users hand amlnet, with limits: files are read only when
//! they are regular files, opened without blocking (a FIFO never hangs the
//! run) and at most [`MAX_INPUT_BYTES`] long (`/dev/zero` never fills the
//! memory; `/dev/null` reads as empty); durations are capped so deadline arithmetic cannot overflow.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};

/// The most amlnet reads of any one input file (workspace JSON, catalogue,
/// resolv.conf, hosts, shell startup files): 4 MiB.
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// The longest `--timeout` (per probe).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// The longest `--deadline` (whole run).
pub const MAX_DEADLINE: Duration = Duration::from_secs(24 * 3600);

/// Why a file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// Does not exist.
    NotFound,
    /// Not a regular file (directory, FIFO, device, socket).
    NotRegular(&'static str),
    /// More than [`MAX_INPUT_BYTES`].
    TooLarge,
    /// Any other I/O error.
    Io(String),
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::NotFound => f.write_str("No such file or directory"),
            InputError::NotRegular(kind) => write!(f, "not a regular file (a {kind})"),
            InputError::TooLarge => write!(f, "larger than {} MiB, the limit for an input file", MAX_INPUT_BYTES >> 20),
            InputError::Io(e) => f.write_str(e),
        }
    }
}

#[cfg(unix)]
fn kind_of(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn kind_of(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() { "directory" } else { "special file" }
}

/// Opens for reading; on Unix without blocking, so a FIFO is refused, not waited on.
fn open_for_reading(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Reads a regular file of at most [`MAX_INPUT_BYTES`]. The file is opened
/// with `O_NONBLOCK` and checked through the opened descriptor, so a FIFO
/// or a device is refused without blocking and without a race.
pub fn read_capped(path: &Path) -> Result<Vec<u8>, InputError> {
    let file = open_for_reading(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound { InputError::NotFound } else { InputError::Io(io_text(&e)) }
    })?;
    let meta = file.metadata().map_err(|e| InputError::Io(io_text(&e)))?;
    if !meta.is_file() {
        if is_dev_null(&meta) {
            // `--hosts-file /dev/null`: the usual way to say "none".
            return Ok(Vec::new());
        }
        return Err(InputError::NotRegular(kind_of(meta.file_type())));
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The size may change while reading (a growing log): never read past the cap.
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| InputError::Io(io_text(&e)))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge);
    }
    Ok(bytes)
}

#[cfg(not(unix))]
fn is_dev_null(_meta: &std::fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
fn is_dev_null(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    meta.file_type().is_char_device()
        && std::fs::metadata("/dev/null")
            .is_ok_and(|null| null.file_type().is_char_device() && null.rdev() == meta.rdev())
}

/// Reads at most [`MAX_INPUT_BYTES`] from any reader (standard input).
pub fn read_capped_from(reader: impl Read) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    reader.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| InputError::Io(io_text(&e)))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge);
    }
    Ok(bytes)
}

/// An I/O error without Rust's "(os error N)" suffix.
fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Reads an explicit input file as UTF-8 text; the error names it as
/// `what PATH: why` (for example `--probes DIR/x.toml: not a regular file`).
pub fn read_input_file(path: &Path, what: &str) -> Result<String> {
    let name = if what.is_empty() { path.display().to_string() } else { format!("{what} {}", path.display()) };
    let bytes = read_capped(path).map_err(|e| anyhow!("{name}: {e}"))?;
    String::from_utf8(bytes).map_err(|_| anyhow!("{name}: not UTF-8 text"))
}

/// `--workspace-json FILE|-`: the source name for messages and the text.
pub fn read_workspace_json(arg: &str) -> Result<(String, String)> {
    if arg == "-" {
        let bytes = read_capped_from(std::io::stdin().lock())
            .map_err(|e| anyhow!("--workspace-json -: cannot read standard input: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| anyhow!("--workspace-json (stdin): not UTF-8 text"))?;
        return Ok(("--workspace-json (stdin)".to_string(), text));
    }
    let text = read_input_file(Path::new(arg), "--workspace-json")?;
    Ok((format!("--workspace-json {arg}"), text))
}

fn parse_capped_duration(s: &str, max: Duration, what: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("'{s}': {e} (examples: 3s, 500ms, 1m)"))?;
    if d.is_zero() {
        return Err(format!("'{s}': must be more than zero"));
    }
    if d > max {
        return Err(format!("'{s}': more than {}, the longest {what}", humantime::format_duration(max)));
    }
    Ok(d)
}

/// `--timeout`: more than zero, at most [`MAX_TIMEOUT`].
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    parse_capped_duration(s, MAX_TIMEOUT, "per-probe timeout")
}

/// `--deadline`: more than zero, at most [`MAX_DEADLINE`].
pub fn parse_deadline(s: &str) -> Result<Duration, String> {
    parse_capped_duration(s, MAX_DEADLINE, "deadline")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_capped(dir.path()), Err(InputError::NotRegular("directory")));
        assert_eq!(read_capped(Path::new("/dev/zero")), Err(InputError::NotRegular("character device")));
        assert_eq!(read_capped(Path::new("/dev/null")), Ok(Vec::new()), "/dev/null is empty");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.display().to_string()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(read_capped(&fifo), Err(InputError::NotRegular("FIFO")));
        assert_eq!(read_capped(&dir.path().join("none")), Err(InputError::NotFound));
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; MAX_INPUT_BYTES as usize + 1]).unwrap();
        assert_eq!(read_capped(&big), Err(InputError::TooLarge));
        let ok = dir.path().join("ok");
        std::fs::write(&ok, "text").unwrap();
        assert_eq!(read_capped(&ok).unwrap(), b"text");
    }

    #[test]
    fn durations_are_capped() {
        assert!(parse_timeout("300000000000y").unwrap_err().contains("longest"));
        assert!(parse_deadline("25h").is_err());
        assert_eq!(parse_deadline("24h").unwrap(), MAX_DEADLINE);
        assert_eq!(parse_timeout("3s").unwrap(), Duration::from_secs(3));
        assert!(parse_timeout("0s").unwrap_err().contains("more than zero"));
    }
}
