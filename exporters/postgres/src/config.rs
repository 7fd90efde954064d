//! The exporter's configuration file (`--config.file`, default `postgres_exporter.yml`): auth
//! modules that supply credentials and connection options for `/probe` targets.
//!
//! ```yaml
//! auth_modules:
//!   monitoring:
//!     type: userpass
//!     userpass:
//!       username: monitor
//!       password: secret
//!     options:
//!       sslmode: disable
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::dsn::{Dsn, DsnError};

/// Error of loading the configuration file. The exporter starts without auth modules then, as
/// postgres_exporter does.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {source}")]
    Parse {
        path: String,
        source: serde_yaml::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub auth_modules: HashMap<String, AuthModule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthModule {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub userpass: UserPass,
    /// Connection parameters added to the target, such as `sslmode`.
    #[serde(default)]
    pub options: HashMap<String, String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPass {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

impl fmt::Debug for AuthModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthModule")
            .field("type", &self.kind)
            .field("username", &self.userpass.username)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl AuthModule {
    /// Builds the DSN of a `/probe` target: the target's own parameters, with the module's user
    /// name and password (type `userpass`) and options replacing any given in the target.
    pub fn configure_target(&self, target: &str) -> Result<Dsn, DsnError> {
        let mut dsn = Dsn::parse(target)?;
        if self.kind == "userpass" {
            if !self.userpass.username.is_empty() {
                dsn.set("user", &self.userpass.username);
            }
            if !self.userpass.password.is_empty() {
                dsn.set("password", &self.userpass.password);
            }
        }
        for (key, value) in &self.options {
            dsn.set(key, value);
        }
        Ok(dsn)
    }
}

/// Reads the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let display_path = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: display_path.clone(),
        source,
    })?;
    serde_yaml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: display_path,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "auth_modules:
  mon:
    type: userpass
    userpass:
      username: monitor
      password: s3cret
    options:
      sslmode: disable
";

    #[test]
    fn auth_module_sets_credentials_and_options() {
        let config: Config = serde_yaml::from_str(FILE).unwrap();
        let module = &config.auth_modules["mon"];
        let dsn = module.configure_target("127.0.0.1:5433/postgres").unwrap();
        assert_eq!(dsn.get("user"), Some("monitor"));
        assert_eq!(dsn.get("password"), Some("s3cret"));
        assert_eq!(dsn.get("sslmode"), Some("disable"));
        assert_eq!(dsn.get("port"), Some("5433"));
        assert!(!format!("{module:?}").contains("s3cret"));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_yaml::from_str::<Config>("auth_module: {}\n").is_err());
    }
}
