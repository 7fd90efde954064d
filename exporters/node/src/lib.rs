//! Collectors of node-exporter, one module per collector of node_exporter.

pub mod collectors;
