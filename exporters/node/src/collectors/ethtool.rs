//! Link speed and duplex of every interface from the ethtool generic netlink family
//! (ETHTOOL_MSG_LINKMODES_GET, Documentation/networking/ethtool-netlink.rst), which the netlink
//! mode of the netclass collector reads as node_exporter does.

use std::io;

use super::rtnetlink::{align, attributes, c_string, read_u32, transact};

/// Generic netlink controller and its request for a family's id (linux/genetlink.h).
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

/// ethtool netlink request, attributes and flags (linux/ethtool_netlink.h).
const ETHTOOL_GENL_NAME: &[u8] = b"ethtool\0";
const ETHTOOL_GENL_VERSION: u8 = 1;
const ETHTOOL_MSG_LINKMODES_GET: u8 = 4;
const ETHTOOL_A_LINKMODES_HEADER: u16 = 1;
const ETHTOOL_A_LINKMODES_SPEED: u16 = 5;
const ETHTOOL_A_LINKMODES_DUPLEX: u16 = 6;
const ETHTOOL_A_HEADER_DEV_NAME: u16 = 2;
const ETHTOOL_A_HEADER_FLAGS: u16 = 3;
const ETHTOOL_FLAG_COMPACT_BITSETS: u32 = 1;
const NLA_F_NESTED: u16 = 0x8000;

/// Size of `struct genlmsghdr`.
const GENL_HEADER_LEN: usize = 4;

/// Speed and duplex of one interface.
#[derive(Debug, Default, PartialEq)]
pub struct LinkMode {
    pub name: String,
    /// Megabits per second, or 0xffffffff (SPEED_UNKNOWN) when the driver does not know it.
    pub speed: Option<u32>,
    /// DUPLEX_HALF (0), DUPLEX_FULL (1) or DUPLEX_UNKNOWN (0xff).
    pub duplex: Option<u8>,
}

/// Returns the link modes of every interface that supports ethtool. Fails with
/// `ErrorKind::NotFound` when the kernel has no ethtool netlink family.
pub fn link_modes() -> io::Result<Vec<LinkMode>> {
    let family = family_id()?;
    let header = attribute(
        ETHTOOL_A_HEADER_FLAGS,
        &ETHTOOL_FLAG_COMPACT_BITSETS.to_ne_bytes(),
    );
    let mut body = vec![ETHTOOL_MSG_LINKMODES_GET, ETHTOOL_GENL_VERSION, 0, 0];
    body.extend(attribute(
        ETHTOOL_A_LINKMODES_HEADER | NLA_F_NESTED,
        &header,
    ));
    let replies = transact(libc::NETLINK_GENERIC, family, true, &body)?;
    Ok(replies
        .iter()
        .filter(|(kind, payload)| *kind == family && payload.len() >= GENL_HEADER_LEN)
        .map(|(_, payload)| parse_link_mode(&payload[GENL_HEADER_LEN..]))
        .collect())
}

/// Returns the message type of the ethtool family, which the kernel assigns when the family registers.
fn family_id() -> io::Result<u16> {
    let mut body = vec![CTRL_CMD_GETFAMILY, 1, 0, 0];
    body.extend(attribute(CTRL_ATTR_FAMILY_NAME, ETHTOOL_GENL_NAME));
    let replies = transact(libc::NETLINK_GENERIC, GENL_ID_CTRL, false, &body).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENOENT) {
            io::Error::new(
                io::ErrorKind::NotFound,
                "ethtool generic netlink family not found",
            )
        } else {
            e
        }
    })?;
    replies
        .iter()
        .filter_map(|(_, payload)| payload.get(GENL_HEADER_LEN..))
        .flat_map(attributes)
        .find(|(kind, _)| *kind == CTRL_ATTR_FAMILY_ID)
        .and_then(|(_, value)| value.get(..2).map(|b| u16::from_ne_bytes([b[0], b[1]])))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "generic netlink reply is missing the family id",
            )
        })
}

fn parse_link_mode(data: &[u8]) -> LinkMode {
    let mut mode = LinkMode::default();
    for (kind, value) in attributes(data) {
        match kind {
            ETHTOOL_A_LINKMODES_HEADER => {
                let name = attributes(value)
                    .into_iter()
                    .find(|(kind, _)| *kind == ETHTOOL_A_HEADER_DEV_NAME);
                mode.name = name.map(|(_, name)| c_string(name)).unwrap_or_default();
            }
            ETHTOOL_A_LINKMODES_SPEED => mode.speed = read_u32(value),
            ETHTOOL_A_LINKMODES_DUPLEX => mode.duplex = value.first().copied(),
            _ => {}
        }
    }
    mode
}

/// Returns the name that Go's ethtool library gives a duplex value, which node_exporter writes
/// into the duplex label.
pub fn duplex_name(duplex: u8) -> String {
    match duplex {
        0 => "Half".to_owned(),
        1 => "Full".to_owned(),
        0xff => "Unknown".to_owned(),
        other => format!("Duplex({other})"),
    }
}

/// Encodes one netlink attribute with its padding.
fn attribute(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(align(4 + value.len()));
    data.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    data.extend_from_slice(&kind.to_ne_bytes());
    data.extend_from_slice(value);
    data.resize(align(data.len()), 0);
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_mode_parses_reply() {
        let header = attribute(ETHTOOL_A_HEADER_DEV_NAME, b"eth0\0");
        let mut data = attribute(ETHTOOL_A_LINKMODES_HEADER | NLA_F_NESTED, &header);
        data.extend(attribute(ETHTOOL_A_LINKMODES_SPEED, &1000u32.to_ne_bytes()));
        data.extend(attribute(ETHTOOL_A_LINKMODES_DUPLEX, &[1]));
        let mode = parse_link_mode(&data);
        assert_eq!(mode.name, "eth0");
        assert_eq!(mode.speed, Some(1000));
        assert_eq!(mode.duplex, Some(1));
    }

    #[test]
    fn duplex_names() {
        assert_eq!(duplex_name(0), "Half");
        assert_eq!(duplex_name(1), "Full");
        assert_eq!(duplex_name(0xff), "Unknown");
        assert_eq!(duplex_name(7), "Duplex(7)");
    }

    #[test]
    fn link_modes_query_succeeds_or_is_unsupported() {
        match link_modes() {
            Ok(modes) => assert!(modes.iter().all(|m| !m.name.is_empty())),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}"),
        }
    }
}
