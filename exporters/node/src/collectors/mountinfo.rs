//! Parser of /proc/<pid>/mountinfo (format in the kernel's Documentation/filesystems/proc.rst,
//! section 3.5). Paths keep their raw bytes so that statfs can reach a mount point whose name
//! is not valid UTF-8.

use std::path::Path;

use exporter_core::CollectError;
use tracing::debug;

use super::util::io_error;

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq)]
pub struct Mount {
    pub major: u32,
    pub minor: u32,
    /// Mount point with octal escapes (`\040` for a space) decoded.
    pub mount_point: Vec<u8>,
    pub mount_options: String,
    pub fs_type: String,
    pub source: String,
    pub super_options: String,
}

impl Mount {
    /// Reports whether the mount or its superblock is read-only.
    pub fn read_only(&self) -> bool {
        let mount_ro = self.mount_options.split(',').any(|o| o == "ro");
        let super_ro = self
            .super_options
            .split(',')
            .any(|o| o == "ro" || o == "emergency_ro");
        mount_ro || super_ro
    }
}

/// Reads the mount table of PID 1, or of the exporter itself when PID 1 is not visible (as in
/// a container without the host's PID namespace).
pub fn read_mountinfo(procfs: &Path) -> Result<Vec<Mount>, CollectError> {
    let init = procfs.join("1/mountinfo");
    let text = match std::fs::read(&init) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let own = procfs.join("self/mountinfo");
            std::fs::read(&own).map_err(|e| io_error(&own, e))?
        }
        Err(e) => return Err(io_error(&init, e)),
    };
    Ok(parse_mountinfo(&text))
}

/// Parses mountinfo text given as bytes. Malformed lines are skipped and logged.
pub fn parse_mountinfo(text: &[u8]) -> Vec<Mount> {
    text.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| {
            let mount = parse_line(line);
            if mount.is_none() {
                debug!(line = %String::from_utf8_lossy(line), "Skipped a malformed mountinfo line");
            }
            mount
        })
        .collect()
}

fn parse_line(line: &[u8]) -> Option<Mount> {
    let fields: Vec<&[u8]> = line
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .collect();
    // Six fixed fields, optional fields ended by "-", then three more.
    let separator = fields.iter().skip(6).position(|f| *f == b"-")? + 6;
    if fields.len() < separator + 3 || separator < 6 {
        return None;
    }
    let text = |bytes: &[u8]| String::from_utf8_lossy(&unescape_octal(bytes)).into_owned();
    let device_number = text(fields[2]);
    let (major, minor) = device_number.split_once(':')?;
    Some(Mount {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        mount_point: unescape_octal(fields[4]),
        mount_options: text(fields[5]),
        fs_type: text(fields[separator + 1]),
        source: text(fields[separator + 2]),
        super_options: fields
            .get(separator + 3)
            .map(|f| text(f))
            .unwrap_or_default(),
    })
}

/// Decodes the `\ooo` escapes that the kernel writes for space, tab, line feed and backslash.
pub fn unescape_octal(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && is_octal_escape(&bytes[i + 1..i + 4]) {
            let digits = &bytes[i + 1..i + 4];
            let value = digits
                .iter()
                .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn is_octal_escape(digits: &[u8]) -> bool {
    digits.len() == 3 && digits.iter().all(|d| (b'0'..=b'7').contains(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] =
        b"36 35 8:1 / /mnt/my\\040disk rw,noatime master:1 - ext4 /dev/sda1 rw,errors=remount-ro\n";

    #[test]
    fn mountinfo_decodes_space_escape() {
        let mounts = parse_mountinfo(LINE);
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].mount_point, b"/mnt/my disk");
        assert_eq!(mounts[0].fs_type, "ext4");
        assert_eq!(mounts[0].source, "/dev/sda1");
        assert_eq!((mounts[0].major, mounts[0].minor), (8, 1));
    }

    #[test]
    fn mountinfo_keeps_invalid_utf8_bytes() {
        let mounts = parse_mountinfo(b"1 0 0:5 / /data/\xff\xfe rw - tmpfs tmpfs rw\n");
        assert_eq!(mounts[0].mount_point, b"/data/\xff\xfe");
        assert!(!mounts[0].read_only());
    }

    #[test]
    fn mountinfo_without_separator_is_skipped() {
        let mounts = parse_mountinfo(b"1 0 0:5 / /x rw tmpfs tmpfs rw\n");
        assert!(mounts.is_empty());
    }

    #[test]
    fn mountinfo_read_only_from_super_options() {
        let mounts = parse_mountinfo(b"1 0 0:5 / /ro rw - ext4 /dev/sdb emergency_ro\n");
        assert!(mounts[0].read_only());
    }

    #[test]
    fn unescape_leaves_plain_backslash() {
        assert_eq!(unescape_octal(b"a\\b\\134c\\011"), b"a\\b\\c\t");
    }
}
