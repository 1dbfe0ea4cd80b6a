//! [`SshGitServer`]: OpenSSH's `sshd` on 127.0.0.1 serving Git through `git-shell`.
//!
//! The server is the system's `/usr/sbin/sshd` (Debian `openssh-server`) started in the
//! foreground with a configuration of its own in a temporary directory: a freshly generated
//! ed25519 host key, an `AuthorizedKeysFile` whose entries force
//! `git-shell -c "$SSH_ORIGINAL_COMMAND"` (so a key can run `git-upload-pack` and
//! `git-receive-pack` and nothing else) with `no-pty` and no forwarding, public-key
//! authentication only, `StrictModes no`, `UsePAM no` and `PermitRootLogin
//! prohibit-password` (CI runs as root). The login user is whoever runs the tests.
//! `AcceptEnv GIT_PROTOCOL` lets protocol v2 through.
//!
//! The port is picked free just before starting; if another process takes it first, the
//! start is retried on a new one. Dropping the server kills `sshd` and every session it
//! started, and reaps it.

use std::fmt;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::keys::keygen;
use crate::error::{Error, Result};
use crate::process::{DEFAULT_TIMEOUT, kill_child, run, truncate};

/// Where Debian installs sshd.
pub const SSHD_PATH: &str = "/usr/sbin/sshd";

/// How long sshd may take to answer after it started.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How many ports are tried when another process takes the picked one.
const START_ATTEMPTS: usize = 5;

/// An OpenSSH server for Git on 127.0.0.1 (see the [module docs](self)).
pub struct SshGitServer {
    addr: SocketAddr,
    user: String,
    root: PathBuf,
    dir: tempfile::TempDir,
    host_public_key: String,
    child: Child,
}

impl fmt::Debug for SshGitServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshGitServer")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .field("root", &self.root)
            .field("host_public_key", &self.host_public_key)
            .finish_non_exhaustive()
    }
}

impl SshGitServer {
    /// Starts sshd for repositories under `root`, accepting the given public keys
    /// (`ssh-ed25519 AAAA…` lines; more can be added with [`Self::authorize`]).
    ///
    /// # Errors
    ///
    /// [`Error::ToolMissing`] (naming `hack/ensure-deps`) without sshd, ssh-keygen or
    /// git-shell; [`Error::SshdStart`] with sshd's log when it does not come up.
    pub fn start<I, S>(root: impl AsRef<Path>, authorized_keys: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let sshd = Path::new(SSHD_PATH);
        if !crate::process::is_executable(sshd) {
            return Err(Error::ToolMissing { tool: "sshd", path: SSHD_PATH.to_owned() });
        }
        let git_shell = crate::process::find_program("git-shell", &["/usr/bin/git-shell"])?;
        let root = std::fs::canonicalize(root.as_ref())
            .map_err(|e| Error::io(format!("opening the server root {}", root.as_ref().display()), e))?;
        let user = current_user()?;
        privilege_separation_dir();

        let dir = tempfile::Builder::new()
            .prefix("eddy-sshd")
            .tempdir()
            .map_err(|e| Error::io("creating a temporary directory", e))?;
        let host_key = dir.path().join("ssh_host_ed25519_key");
        keygen(&host_key, "ed25519", None, "eddy-test-git host")?;
        let host_public = std::fs::read_to_string(host_key.with_extension("pub"))
            .map_err(|e| Error::io("reading the host public key", e))?;
        let host_public_key = host_public.split_whitespace().take(2).collect::<Vec<_>>().join(" ");

        let authorized = dir.path().join("authorized_keys");
        std::fs::write(&authorized, "").map_err(|e| Error::io("writing authorized_keys", e))?;
        let git_shell_str = git_shell.display().to_string();
        for key in authorized_keys {
            append_key(&authorized, &git_shell_str, key.as_ref())?;
        }

        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let config = dir.path().join("sshd_config");
            std::fs::write(&config, sshd_config(dir.path(), port, &user, &host_key, &authorized))
                .map_err(|e| Error::io("writing sshd_config", e))?;
            let log = dir.path().join(format!("sshd-{port}.log"));
            match spawn_and_wait(sshd, &config, &log, port) {
                Ok(child) => {
                    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                    tracing::debug!(%addr, %user, "test sshd started");
                    return Ok(Self { addr, user, root, dir, host_public_key, child });
                }
                Err(e @ Error::SshdStart { .. }) if log_says_port_taken(&log) => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::InvalidArgument("no sshd start attempted".to_owned())))
    }

    /// Accepts one more public key (sshd reads the file at each login).
    ///
    /// # Errors
    ///
    /// I/O failures; [`Error::ToolMissing`] without git-shell.
    pub fn authorize(&self, public_key: &str) -> Result<()> {
        let git_shell = crate::process::find_program("git-shell", &["/usr/bin/git-shell"])?;
        append_key(&self.dir.path().join("authorized_keys"), &git_shell.display().to_string(), public_key)
    }

    /// The address sshd listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process ID of the listening sshd.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The login user (the user running the tests).
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The directory of repositories.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `ssh://<user>@127.0.0.1:<port><root>/<name>`.
    #[must_use]
    pub fn repo_url(&self, name: &str) -> String {
        format!("ssh://{}@{}{}/{}", self.user, self.addr, self.root.display(), name.trim_start_matches('/'))
    }

    /// The host public key, `ssh-ed25519 AAAA…`.
    #[must_use]
    pub fn host_public_key(&self) -> &str {
        &self.host_public_key
    }

    /// The `known_hosts` line for this server: `[127.0.0.1]:PORT ssh-ed25519 AAAA…`.
    #[must_use]
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.addr.port(), self.host_public_key)
    }

    /// Writes [`Self::known_hosts_line`] to a file in the server's directory and returns it.
    ///
    /// # Errors
    ///
    /// I/O failures.
    pub fn known_hosts_file(&self) -> Result<PathBuf> {
        let path = self.dir.path().join("known_hosts");
        std::fs::write(&path, format!("{}\n", self.known_hosts_line()))
            .map_err(|e| Error::io("writing known_hosts", e))?;
        Ok(path)
    }

    /// A `GIT_SSH_COMMAND` that logs in with the private key at `identity`, checks the host
    /// against `known_hosts` with `StrictHostKeyChecking=yes`, ignores every user and system
    /// ssh configuration and never prompts (`BatchMode`).
    #[must_use]
    pub fn ssh_command(identity: &Path, known_hosts: &Path) -> String {
        format!(
            "ssh -F /dev/null -i '{}' -o IdentitiesOnly=yes -o UserKnownHostsFile='{}' \
             -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes \
             -o ConnectTimeout=10",
            identity.display(),
            known_hosts.display()
        )
    }

    /// What sshd logged so far (for failing tests' messages).
    #[must_use]
    pub fn log(&self) -> String {
        let log = self.dir.path().join(format!("sshd-{}.log", self.addr.port()));
        std::fs::read_to_string(log).unwrap_or_default()
    }

    /// Stops sshd and every session it started. Also done on drop.
    pub fn stop(self) {}
}

impl Drop for SshGitServer {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}

fn sshd_config(dir: &Path, port: u16, user: &str, host_key: &Path, authorized: &Path) -> String {
    format!(
        "# eddy-test-git: sshd for Git tests on the loopback interface only.\n\
         ListenAddress 127.0.0.1:{port}\n\
         HostKey {host_key}\n\
         PidFile {pid}\n\
         AuthorizedKeysFile {authorized}\n\
         AllowUsers {user}\n\
         StrictModes no\n\
         UsePAM no\n\
         PermitRootLogin prohibit-password\n\
         PubkeyAuthentication yes\n\
         AuthenticationMethods publickey\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitUserEnvironment no\n\
         AllowTcpForwarding no\n\
         AllowStreamLocalForwarding no\n\
         AllowAgentForwarding no\n\
         X11Forwarding no\n\
         PermitTunnel no\n\
         UseDNS no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         AcceptEnv GIT_PROTOCOL\n\
         MaxStartups 100:30:200\n\
         MaxSessions 50\n\
         LoginGraceTime 30\n\
         ClientAliveInterval 15\n\
         ClientAliveCountMax 4\n\
         LogLevel VERBOSE\n",
        host_key = host_key.display(),
        pid = dir.join("sshd.pid").display(),
        authorized = authorized.display(),
    )
}

/// Appends an `authorized_keys` entry restricted to git-shell.
fn append_key(file: &Path, git_shell: &str, public_key: &str) -> Result<()> {
    use std::io::Write;
    let key = public_key.trim();
    if key.is_empty() || key.contains('\n') || !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(Error::InvalidArgument("an authorized key must be one `type base64` line".to_owned()));
    }
    let line = format!(
        "command=\"{git_shell} -c \\\"$SSH_ORIGINAL_COMMAND\\\"\",no-pty,no-port-forwarding,\
         no-X11-forwarding,no-agent-forwarding {key}\n"
    );
    let mut f =
        std::fs::OpenOptions::new().append(true).open(file).map_err(|e| Error::io("opening authorized_keys", e))?;
    f.write_all(line.as_bytes()).map_err(|e| Error::io("writing authorized_keys", e))
}

/// Starts sshd and waits until it greets with its SSH banner.
fn spawn_and_wait(sshd: &Path, config: &Path, log: &Path, port: u16) -> Result<Child> {
    let mut child = Command::new(sshd)
        .arg("-D")
        .arg("-f")
        .arg(config)
        .arg("-E")
        .arg(log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::io("starting sshd", e))?;
    let started = Instant::now();
    let fail = |child: &mut Child, reason: String| {
        kill_child(child);
        let log_tail = truncate(&std::fs::read_to_string(log).unwrap_or_default());
        Error::SshdStart { reason, log: log.to_owned(), log_tail }
    };
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Err(fail(&mut child, format!("sshd exited with {status}"))),
            Ok(None) => {}
            Err(e) => return Err(fail(&mut child, format!("waiting for sshd: {e}"))),
        }
        if banner(port) {
            return Ok(child);
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(fail(&mut child, format!("no SSH banner on port {port} within {START_TIMEOUT:?}")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether something on `port` answers with an SSH banner.
fn banner(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 8];
    stream.read_exact(&mut buf).is_ok() && &buf == b"SSH-2.0-"
}

fn log_says_port_taken(log: &Path) -> bool {
    std::fs::read_to_string(log).is_ok_and(|l| l.contains("Address already in use"))
}

/// A port that was free a moment ago.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| Error::io("binding 127.0.0.1:0", e))?;
    Ok(listener.local_addr().map_err(|e| Error::io("reading the bound address", e))?.port())
}

/// The name of the user running the tests.
fn current_user() -> Result<String> {
    let out = run(Command::new("id").arg("-un"), "id -un", None, DEFAULT_TIMEOUT)?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if name.is_empty() {
        return Err(Error::UnexpectedOutput { what: "id -un".to_owned(), output: String::new() });
    }
    Ok(name)
}

/// As root, sshd needs its privilege separation directory.
fn privilege_separation_dir() {
    if rustix::process::getuid().is_root()
        && !Path::new("/run/sshd").is_dir()
        && let Err(e) = std::fs::create_dir_all("/run/sshd")
    {
        tracing::warn!(error = %e, "cannot create /run/sshd");
    }
}
