//! Kubernetes API machinery over HTTP for Eddy.
