//! SSH for Git tests: the [`SshGitServer`] and client key pairs ([`SshKeyPair`]).

pub mod keys;
pub mod server;

pub(crate) use self::keys::keygen;
pub use self::keys::{SshKeyFormat, SshKeyPair, SshKeyType};
pub use self::server::{SSHD_PATH, SshGitServer};
