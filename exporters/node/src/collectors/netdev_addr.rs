//! Interface addresses for `node_network_address_info` of the netdev collector, listed with
//! getifaddrs(3).

use std::ffi::CStr;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use exporter_core::Desc;

pub const ADDRESS_INFO: Desc = Desc::gauge(
    "node_network_address_info",
    "An IP address of a network device with its prefix length and scope. The value is always 1.",
    &["device", "address", "netmask", "scope"],
);

/// One IPv4 or IPv6 address of an interface.
#[derive(Debug)]
pub struct Address {
    pub device: String,
    pub address: String,
    /// Prefix length in bits, as a decimal string.
    pub netmask: String,
    pub scope: &'static str,
}

/// Returns the IPv4 and IPv6 addresses of every interface.
pub fn addresses() -> io::Result<Vec<Address>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head into `list`, freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list that getifaddrs returned and is not freed yet.
        let current = unsafe { &*entry };
        entry = current.ifa_next;
        // SAFETY: ifa_addr and ifa_netmask are null or point at a sockaddr of the family in
        // their sa_family field, and ifa_name is a NUL-terminated string.
        let parsed = unsafe {
            let address = socket_address(current.ifa_addr);
            let mask = socket_address(current.ifa_netmask);
            let name = CStr::from_ptr(current.ifa_name)
                .to_string_lossy()
                .into_owned();
            address.map(|address| (name, address, mask))
        };
        let Some((device, address, mask)) = parsed else {
            continue;
        };
        found.push(Address {
            device,
            address: address.to_string(),
            netmask: mask.map_or(0, prefix_length).to_string(),
            scope: scope(address),
        });
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    Ok(found)
}

/// Reads an IPv4 or IPv6 socket address.
///
/// # Safety
/// `address` must be null or point at a valid sockaddr of the family it names.
unsafe fn socket_address(address: *const libc::sockaddr) -> Option<IpAddr> {
    if address.is_null() {
        return None;
    }
    match i32::from((*address).sa_family) {
        libc::AF_INET => {
            let v4 = &*address.cast::<libc::sockaddr_in>();
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))))
        }
        libc::AF_INET6 => {
            let v6 = &*address.cast::<libc::sockaddr_in6>();
            Some(IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

fn prefix_length(mask: IpAddr) -> u32 {
    match mask {
        IpAddr::V4(mask) => u32::from(mask).count_ones(),
        IpAddr::V6(mask) => u128::from(mask).count_ones(),
    }
}

/// Returns the scope label of node_exporter, which follows the address classes of Go's `net.IP`.
fn scope(address: IpAddr) -> &'static str {
    let link_local = match address {
        IpAddr::V4(a) => a.is_loopback() || a.is_link_local() || is_v4_link_local_multicast(a),
        IpAddr::V6(a) => {
            a.is_loopback()
                || (a.segments()[0] & 0xffc0) == 0xfe80
                || (a.segments()[0] & 0xff0f) == 0xff02
        }
    };
    if link_local {
        return "link-local";
    }
    if let IpAddr::V6(a) = address {
        if (a.segments()[0] & 0xff0f) == 0xff01 {
            return "interface-local";
        }
    }
    let global = match address {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    };
    if global {
        "global"
    } else {
        ""
    }
}

fn is_v4_link_local_multicast(address: Ipv4Addr) -> bool {
    let octets = address.octets();
    octets[0] == 224 && octets[1] == 0 && octets[2] == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_classes() {
        let cases = [
            ("127.0.0.1", "link-local"),
            ("169.254.1.1", "link-local"),
            ("224.0.0.1", "link-local"),
            ("10.1.2.3", "global"),
            ("0.0.0.0", ""),
            ("239.1.1.1", ""),
            ("::1", "link-local"),
            ("fe80::1", "link-local"),
            ("ff01::1", "interface-local"),
            ("2001:db8::1", "global"),
        ];
        for (address, expected) in cases {
            assert_eq!(scope(address.parse().unwrap()), expected, "{address}");
        }
    }

    #[test]
    fn prefix_lengths() {
        assert_eq!(prefix_length("255.255.255.0".parse().unwrap()), 24);
        assert_eq!(prefix_length("ffff:ffff::".parse().unwrap()), 32);
    }

    #[test]
    fn addresses_include_loopback() {
        let list = addresses().unwrap();
        let lo = list.iter().find(|a| a.address == "127.0.0.1").unwrap();
        assert_eq!(lo.device, "lo");
        assert_eq!(lo.netmask, "8");
    }
}
