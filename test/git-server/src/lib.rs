//! Git servers for tests: smart HTTP (git http-backend, basic auth, TLS) and SSH (OpenSSH sshd with git-shell) on 127.0.0.1, plus fixture repositories
