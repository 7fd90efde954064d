//! Per-device statistics of mounted btrfs filesystems from the BTRFS_IOC_FS_INFO,
//! BTRFS_IOC_DEV_INFO and BTRFS_IOC_GET_DEV_STATS ioctls. The argument structures follow
//! include/uapi/linux/btrfs.h; their sizes are fixed by the kernel ABI.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const MAGIC: libc::c_ulong = 0x94;
const DEV_STAT_VALUES: usize = 5;

#[repr(C)]
struct FsInfoArgs {
    max_id: u64,
    num_devices: u64,
    fsid: [u8; 16],
    nodesize: u32,
    sectorsize: u32,
    clone_alignment: u32,
    csum_type: u16,
    csum_size: u16,
    flags: u64,
    generation: u64,
    metadata_uuid: [u8; 16],
    reserved: [u8; 944],
}

#[repr(C)]
struct DevInfoArgs {
    devid: u64,
    uuid: [u8; 16],
    bytes_used: u64,
    total_bytes: u64,
    fsid: [u8; 16],
    unused: [u64; 377],
    path: [u8; 1024],
}

#[repr(C)]
struct DevStatsArgs {
    devid: u64,
    nr_items: u64,
    flags: u64,
    values: [u64; DEV_STAT_VALUES],
    unused: [u64; 128 - 2 - DEV_STAT_VALUES],
}

/// Builds an ioctl request number as the kernel's _IOC macro does.
const fn ioc(direction: libc::c_ulong, number: libc::c_ulong, size: usize) -> libc::c_ulong {
    (direction << 30) | ((size as libc::c_ulong) << 16) | (MAGIC << 8) | number
}
const READ: libc::c_ulong = 2;
const READ_WRITE: libc::c_ulong = 3;
const IOC_FS_INFO: libc::c_ulong = ioc(READ, 31, std::mem::size_of::<FsInfoArgs>());
const IOC_DEV_INFO: libc::c_ulong = ioc(READ_WRITE, 30, std::mem::size_of::<DevInfoArgs>());
const IOC_GET_DEV_STATS: libc::c_ulong = ioc(READ_WRITE, 52, std::mem::size_of::<DevStatsArgs>());

/// Error counter names in the order of the kernel's btrfs_dev_stat_values.
pub const ERROR_TYPES: [&str; DEV_STAT_VALUES] =
    ["write", "read", "flush", "corruption", "generation"];

/// Statistics of one member device.
#[derive(Debug)]
pub struct DeviceStats {
    /// Base name of the device path, such as `sda1`.
    pub device: String,
    /// Device UUID in the dashed form.
    pub uuid: String,
    pub bytes_used: u64,
    pub total_bytes: u64,
    /// Counts in the order of [`ERROR_TYPES`].
    pub errors: [u64; DEV_STAT_VALUES],
}

/// Statistics of one filesystem: its fsid as 32 hex digits and its devices.
#[derive(Debug)]
pub struct FilesystemStats {
    pub fsid: String,
    pub devices: Vec<DeviceStats>,
}

fn open_dir(path: &Path) -> std::io::Result<OwnedFd> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c_path` is a NUL-terminated path that outlives the call.
    let fd = unsafe {
        libc::open(
            c_path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by open, so no other owner exists.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Runs one ioctl whose argument is `args`.
fn ioctl<T>(fd: &OwnedFd, request: libc::c_ulong, args: &mut T) -> std::io::Result<()> {
    // SAFETY: `args` is a repr(C) structure of the exact size encoded in `request`, so the
    // kernel reads and writes only within it.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request, args as *mut T) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn zeroed<T>() -> Box<T> {
    // SAFETY: every structure here consists of integers and byte arrays, for which all-zero
    // bytes are a valid value.
    unsafe { Box::new(std::mem::zeroed()) }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn dashed_uuid(bytes: &[u8; 16]) -> String {
    let h = hex(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Queries the devices of the btrfs filesystem mounted at `mount_point`.
pub fn filesystem_stats(mount_point: &Path) -> std::io::Result<FilesystemStats> {
    let fd = open_dir(mount_point)?;
    let mut info = zeroed::<FsInfoArgs>();
    ioctl(&fd, IOC_FS_INFO, &mut *info)?;

    let mut devices = Vec::new();
    for devid in 0..=info.max_id {
        let mut dev = zeroed::<DevInfoArgs>();
        dev.devid = devid;
        match ioctl(&fd, IOC_DEV_INFO, &mut *dev) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => continue,
            Err(e) => return Err(e),
        }
        let mut stats = zeroed::<DevStatsArgs>();
        stats.devid = devid;
        stats.nr_items = DEV_STAT_VALUES as u64;
        ioctl(&fd, IOC_GET_DEV_STATS, &mut *stats)?;

        let path_len = dev
            .path
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(dev.path.len());
        let path = String::from_utf8_lossy(&dev.path[..path_len]).into_owned();
        devices.push(DeviceStats {
            device: path.rsplit('/').next().unwrap_or_default().to_owned(),
            uuid: dashed_uuid(&dev.uuid),
            bytes_used: dev.bytes_used,
            total_bytes: dev.total_bytes,
            errors: stats.values,
        });
        if devices.len() as u64 == info.num_devices {
            break;
        }
    }
    Ok(FilesystemStats {
        fsid: hex(&info.fsid),
        devices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_sizes_match_kernel_abi() {
        assert_eq!(std::mem::size_of::<FsInfoArgs>(), 1024);
        assert_eq!(std::mem::size_of::<DevInfoArgs>(), 4096);
        assert_eq!(std::mem::size_of::<DevStatsArgs>(), 1032);
    }

    #[test]
    fn request_numbers_match_kernel_headers() {
        assert_eq!(IOC_FS_INFO, 0x8400_941f);
        assert_eq!(IOC_DEV_INFO, 0xd000_941e);
        assert_eq!(IOC_GET_DEV_STATS, 0xc408_9434);
    }

    #[test]
    fn uuid_formats() {
        let bytes: [u8; 16] = [
            0xcb, 0xbd, 0x39, 0x15, 0x6e, 0xb5, 0x40, 0xd5, 0x9e, 0xca, 0x2f, 0xe9, 0x4d, 0x69,
            0x93, 0x72,
        ];
        assert_eq!(dashed_uuid(&bytes), "cbbd3915-6eb5-40d5-9eca-2fe94d699372");
        assert_eq!(hex(&bytes), "cbbd39156eb540d59eca2fe94d699372");
    }

    #[test]
    fn non_btrfs_directory_fails() {
        let dir = tempfile::tempdir().unwrap();
        assert!(filesystem_stats(dir.path()).is_err());
    }
}
