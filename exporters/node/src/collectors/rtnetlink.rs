//! A minimal netlink client: dumps the kernel's link table (RTM_GETLINK) and neighbour table
//! (RTM_GETNEIGH) over a NETLINK_ROUTE socket, as `ip link` and `ip neigh` do, and sends the
//! requests of other netlink families such as ethtool's. Message layouts are those of
//! linux/netlink.h, linux/rtnetlink.h, linux/if_link.h and linux/neighbour.h.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_HEADER_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;

const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_STATS: u16 = 7;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_IFALIAS: u16 = 20;
const IFLA_STATS64: u16 = 23;
const IFLA_GROUP: u16 = 27;
const IFLA_CARRIER: u16 = 33;
const IFLA_CARRIER_CHANGES: u16 = 35;
const IFLA_CARRIER_UP_COUNT: u16 = 47;
const IFLA_CARRIER_DOWN_COUNT: u16 = 48;
const IFLA_PROP_LIST: u16 = 52;
const IFLA_ALT_IFNAME: u16 = 53;

/// Size of `struct ifinfomsg`.
const IFINFOMSG_LEN: usize = 16;
/// Size of `struct ndmsg`.
const NDMSG_LEN: usize = 12;

/// Counters of `struct rtnl_link_stats64`, in the kernel's field order. The 32-bit
/// `struct rtnl_link_stats` of older kernels has the same order.
pub const STAT_FIELDS: [&str; 24] = [
    "receive_packets",
    "transmit_packets",
    "receive_bytes",
    "transmit_bytes",
    "receive_errors",
    "transmit_errors",
    "receive_dropped",
    "transmit_dropped",
    "multicast",
    "collisions",
    "receive_length_errors",
    "receive_over_errors",
    "receive_crc_errors",
    "receive_frame_errors",
    "receive_fifo_errors",
    "receive_missed_errors",
    "transmit_aborted_errors",
    "transmit_carrier_errors",
    "transmit_fifo_errors",
    "transmit_heartbeat_errors",
    "transmit_window_errors",
    "receive_compressed",
    "transmit_compressed",
    "receive_nohandler",
];

/// One network interface of an RTM_NEWLINK reply.
#[derive(Debug, Default, Clone)]
pub struct Link {
    pub index: i32,
    pub device_type: u16,
    pub flags: u32,
    pub name: String,
    pub address: Option<Vec<u8>>,
    pub broadcast: Option<Vec<u8>>,
    pub mtu: Option<u32>,
    /// Index of the lower device, which the kernel omits when it equals `index`.
    pub link: Option<u32>,
    pub tx_queue_len: Option<u32>,
    pub operstate: Option<u8>,
    pub link_mode: Option<u8>,
    pub alias: Option<String>,
    /// Alternative names from IFLA_PROP_LIST.
    pub alt_names: Vec<String>,
    pub group: Option<u32>,
    pub carrier: Option<u8>,
    pub carrier_changes: Option<u32>,
    pub carrier_up_count: Option<u32>,
    pub carrier_down_count: Option<u32>,
    /// Values in the order of [`STAT_FIELDS`], from IFLA_STATS64 or else IFLA_STATS.
    pub stats: Option<Vec<u64>>,
}

/// One entry of an RTM_NEWNEIGH reply.
#[derive(Debug, Clone, Copy)]
pub struct Neighbour {
    pub ifindex: i32,
    pub state: u16,
}

/// Returns every network interface.
pub fn links() -> io::Result<Vec<Link>> {
    let request = [0u8; IFINFOMSG_LEN];
    let messages = transact(libc::NETLINK_ROUTE, RTM_GETLINK, true, &request)?;
    Ok(messages
        .iter()
        .filter(|(kind, _)| *kind == RTM_NEWLINK)
        .filter_map(|(_, payload)| parse_link(payload))
        .collect())
}

/// Returns the neighbour entries of address family `family`, such as `libc::AF_INET`.
pub fn neighbours(family: i32) -> io::Result<Vec<Neighbour>> {
    let mut request = [0u8; NDMSG_LEN];
    request[0] = family as u8;
    let messages = transact(libc::NETLINK_ROUTE, RTM_GETNEIGH, true, &request)?;
    Ok(messages
        .iter()
        .filter(|(kind, payload)| *kind == RTM_NEWNEIGH && payload.len() >= NDMSG_LEN)
        .map(|(_, payload)| Neighbour {
            ifindex: i32::from_ne_bytes([payload[4], payload[5], payload[6], payload[7]]),
            state: u16::from_ne_bytes([payload[8], payload[9]]),
        })
        .collect())
}

/// One reply message: its type and its payload after the netlink header.
pub type Message = (u16, Vec<u8>);

/// Sends a request of type `kind` with `body` on a socket of netlink `protocol` and returns the
/// reply messages: for a dump every message until NLMSG_DONE, otherwise those of the first reply.
pub fn transact(protocol: i32, kind: u16, dump: bool, body: &[u8]) -> io::Result<Vec<Message>> {
    // SAFETY: socket has no memory preconditions, and the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a valid descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    set_receive_timeout(&socket)?;

    let sequence = 1u32;
    let request = encode_request(kind, dump, sequence, body);
    // SAFETY: the pointer and length describe `request`, which outlives the call. A zeroed
    // sockaddr_nl with AF_NETLINK addresses the kernel.
    let sent = unsafe {
        let mut address: libc::sockaddr_nl = std::mem::zeroed();
        address.nl_family = libc::AF_NETLINK as u16;
        libc::sendto(
            socket.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
            (&address as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    receive_replies(&socket, sequence, dump)
}

/// Receives datagrams until the dump with `sequence` ends, or for another request until its
/// first reply, and returns the messages.
fn receive_replies(socket: &OwnedFd, sequence: u32, dump: bool) -> io::Result<Vec<Message>> {
    let mut messages = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: the pointer and length describe `buffer`, which outlives the call.
        let received = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                libc::MSG_TRUNC,
            )
        };
        if received < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if received == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "netlink socket closed",
            ));
        }
        // With MSG_TRUNC, recv returns the full datagram length even when it did not fit.
        let received = received as usize;
        if received > buffer.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("netlink reply of {received} bytes exceeds the receive buffer"),
            ));
        }
        let done = split_messages(&buffer[..received], sequence, &mut messages)?;
        if done || (!dump && !messages.is_empty()) {
            return Ok(messages);
        }
    }
}

/// Builds a netlink request of type `kind`, a dump request if `dump` is set, with `body` after
/// the header.
fn encode_request(kind: u16, dump: bool, sequence: u32, body: &[u8]) -> Vec<u8> {
    let flags = if dump {
        NLM_F_REQUEST | NLM_F_DUMP
    } else {
        NLM_F_REQUEST
    };
    let length = (NLMSG_HEADER_LEN + body.len()) as u32;
    let mut request = Vec::with_capacity(length as usize);
    request.extend_from_slice(&length.to_ne_bytes());
    request.extend_from_slice(&kind.to_ne_bytes());
    request.extend_from_slice(&flags.to_ne_bytes());
    request.extend_from_slice(&sequence.to_ne_bytes());
    // Port 0 addresses the kernel.
    request.extend_from_slice(&0u32.to_ne_bytes());
    request.extend_from_slice(body);
    request
}

/// Timeout of each recv, after which a dump that the kernel does not complete fails instead of
/// holding the collector's thread.
const RECEIVE_TIMEOUT_SECONDS: libc::time_t = 5;

fn set_receive_timeout(socket: &OwnedFd) -> io::Result<()> {
    let timeout = libc::timeval {
        tv_sec: RECEIVE_TIMEOUT_SECONDS,
        tv_usec: 0,
    };
    // SAFETY: the pointer and length describe `timeout`, which outlives the call.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Appends the messages of one datagram to `messages`. Returns true at NLMSG_DONE and an error
/// for an NLMSG_ERROR reply.
fn split_messages(mut data: &[u8], sequence: u32, messages: &mut Vec<Message>) -> io::Result<bool> {
    while data.len() >= NLMSG_HEADER_LEN {
        let length = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let kind = u16::from_ne_bytes([data[4], data[5]]);
        let seq = u32::from_ne_bytes([data[8], data[9], data[10], data[11]]);
        if length < NLMSG_HEADER_LEN || length > data.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "truncated netlink message",
            ));
        }
        let payload = &data[NLMSG_HEADER_LEN..length];
        if seq == sequence {
            match kind {
                NLMSG_DONE => return Ok(true),
                NLMSG_ERROR => {
                    let code = payload
                        .get(..4)
                        .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                    if code != 0 {
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                }
                _ => messages.push((kind, payload.to_vec())),
            }
        }
        data = &data[align(length).min(data.len())..];
    }
    Ok(false)
}

pub fn align(length: usize) -> usize {
    (length + 3) & !3
}

/// Returns the (type, value) pairs of a run of `struct rtattr`.
pub fn attributes(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut found = Vec::new();
    while data.len() >= 4 {
        let length = u16::from_ne_bytes([data[0], data[1]]) as usize;
        // The top two bits are the NLA_F_NESTED and NLA_F_NET_BYTEORDER flags.
        let kind = u16::from_ne_bytes([data[2], data[3]]) & 0x3fff;
        if length < 4 || length > data.len() {
            break;
        }
        found.push((kind, &data[4..length]));
        data = &data[align(length).min(data.len())..];
    }
    found
}

fn parse_link(payload: &[u8]) -> Option<Link> {
    let header = payload.get(..IFINFOMSG_LEN)?;
    let mut link = Link {
        device_type: u16::from_ne_bytes([header[2], header[3]]),
        index: i32::from_ne_bytes([header[4], header[5], header[6], header[7]]),
        flags: u32::from_ne_bytes([header[8], header[9], header[10], header[11]]),
        ..Link::default()
    };
    let mut stats32 = None;
    for (kind, value) in attributes(&payload[IFINFOMSG_LEN..]) {
        match kind {
            IFLA_IFNAME => link.name = c_string(value),
            IFLA_ADDRESS => link.address = Some(value.to_vec()),
            IFLA_BROADCAST => link.broadcast = Some(value.to_vec()),
            IFLA_MTU => link.mtu = read_u32(value),
            IFLA_LINK => link.link = read_u32(value),
            IFLA_TXQLEN => link.tx_queue_len = read_u32(value),
            IFLA_OPERSTATE => link.operstate = value.first().copied(),
            IFLA_LINKMODE => link.link_mode = value.first().copied(),
            IFLA_IFALIAS => link.alias = Some(c_string(value)),
            IFLA_GROUP => link.group = read_u32(value),
            IFLA_CARRIER => link.carrier = value.first().copied(),
            IFLA_CARRIER_CHANGES => link.carrier_changes = read_u32(value),
            IFLA_CARRIER_UP_COUNT => link.carrier_up_count = read_u32(value),
            IFLA_CARRIER_DOWN_COUNT => link.carrier_down_count = read_u32(value),
            IFLA_STATS64 => link.stats = read_counters(value, 8),
            IFLA_STATS => stats32 = read_counters(value, 4),
            IFLA_PROP_LIST => {
                link.alt_names = attributes(value)
                    .into_iter()
                    .filter(|(kind, _)| *kind == IFLA_ALT_IFNAME)
                    .map(|(_, name)| c_string(name))
                    .collect();
            }
            _ => {}
        }
    }
    if link.stats.is_none() {
        link.stats = stats32;
    }
    Some(link)
}

/// Reads up to [`STAT_FIELDS`] counters of `width` bytes. Counters that an older kernel does not
/// send are 0.
fn read_counters(value: &[u8], width: usize) -> Option<Vec<u64>> {
    if value.len() < width * 10 {
        return None;
    }
    let counters = (0..STAT_FIELDS.len())
        .map(|i| match value.get(i * width..(i + 1) * width) {
            Some(b) if width == 8 => {
                u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }
            Some(b) => u64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
            None => 0,
        })
        .collect();
    Some(counters)
}

pub fn read_u32(value: &[u8]) -> Option<u32> {
    let b = value.get(..4)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

pub fn c_string(value: &[u8]) -> String {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_include_loopback() {
        let links = links().unwrap();
        let lo = links.iter().find(|l| l.name == "lo").unwrap();
        assert!(lo.index > 0);
        assert_eq!(lo.stats.as_ref().map(Vec::len), Some(STAT_FIELDS.len()));
        assert_eq!(lo.mtu.map(|mtu| mtu > 0), Some(true));
    }

    #[test]
    fn neighbours_dump_succeeds() {
        assert!(neighbours(libc::AF_INET).is_ok());
    }

    #[test]
    fn attributes_stop_at_truncation() {
        let mut data = Vec::new();
        data.extend_from_slice(&8u16.to_ne_bytes());
        data.extend_from_slice(&IFLA_MTU.to_ne_bytes());
        data.extend_from_slice(&1500u32.to_ne_bytes());
        data.extend_from_slice(&200u16.to_ne_bytes());
        data.extend_from_slice(&IFLA_IFNAME.to_ne_bytes());
        let found = attributes(&data);
        assert_eq!(found.len(), 1);
        assert_eq!(read_u32(found[0].1), Some(1500));
    }

    fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut data = Vec::new();
        data.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        data.extend_from_slice(&kind.to_ne_bytes());
        data.extend_from_slice(value);
        data.resize(align(data.len()), 0);
        data
    }

    #[test]
    fn link_parses_attributes() {
        let mut payload = vec![0u8; IFINFOMSG_LEN];
        payload[2..4].copy_from_slice(&1u16.to_ne_bytes());
        payload[4..8].copy_from_slice(&7i32.to_ne_bytes());
        payload[8..12].copy_from_slice(&0x1003u32.to_ne_bytes());
        payload.extend(attribute(IFLA_IFNAME, b"eth7\0"));
        payload.extend(attribute(IFLA_ADDRESS, &[1, 2, 3, 4, 5, 6]));
        payload.extend(attribute(IFLA_OPERSTATE, &[6]));
        let mut alt_names = attribute(IFLA_ALT_IFNAME, b"enp0s7\0");
        alt_names.extend(attribute(IFLA_ALT_IFNAME, b"lan\0"));
        payload.extend(attribute(IFLA_PROP_LIST | 0x8000, &alt_names));
        let stats32: Vec<u8> = (1u32..=23).flat_map(u32::to_ne_bytes).collect();
        payload.extend(attribute(IFLA_STATS, &stats32));
        let link = parse_link(&payload).unwrap();
        assert_eq!(link.name, "eth7");
        assert_eq!(link.index, 7);
        assert_eq!(link.device_type, 1);
        assert_eq!(link.flags, 0x1003);
        assert_eq!(link.operstate, Some(6));
        assert_eq!(link.alt_names, ["enp0s7", "lan"]);
        assert_eq!(link.address.as_deref(), Some(&[1, 2, 3, 4, 5, 6][..]));
        let stats = link.stats.unwrap();
        assert_eq!(stats.len(), STAT_FIELDS.len());
        assert_eq!(stats[0], 1);
        assert_eq!(stats[22], 23);
        assert_eq!(stats[23], 0);
    }

    #[test]
    fn link_prefers_64_bit_stats() {
        let mut payload = vec![0u8; IFINFOMSG_LEN];
        let stats64: Vec<u8> = (0u64..24)
            .map(|v| v + (1 << 40))
            .flat_map(u64::to_ne_bytes)
            .collect();
        let stats32: Vec<u8> = (0u32..24).flat_map(u32::to_ne_bytes).collect();
        payload.extend(attribute(IFLA_STATS64, &stats64));
        payload.extend(attribute(IFLA_STATS, &stats32));
        let stats = parse_link(&payload).unwrap().stats.unwrap();
        assert_eq!(stats[0], 1 << 40);
    }

    #[test]
    fn short_link_message_is_skipped() {
        assert!(parse_link(&[0u8; 8]).is_none());
    }

    #[test]
    fn error_reply_is_an_error() {
        let mut data = Vec::new();
        data.extend_from_slice(&20u32.to_ne_bytes());
        data.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        data.extend_from_slice(&0u16.to_ne_bytes());
        data.extend_from_slice(&1u32.to_ne_bytes());
        data.extend_from_slice(&0u32.to_ne_bytes());
        data.extend_from_slice(&(-libc::EPERM).to_ne_bytes());
        let mut messages = Vec::new();
        let error = split_messages(&data, 1, &mut messages).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EPERM));
    }
}
