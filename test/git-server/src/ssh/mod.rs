//! SSH for Git tests: client key pairs ([`SshKeyPair`]).

mod keys;

pub(crate) use self::keys::keygen;
pub use self::keys::{SshKeyFormat, SshKeyPair, SshKeyType};
