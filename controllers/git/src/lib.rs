//! Git for Eddy's source controller: fetch (gix), references and Flux revision strings, authentication, submodules, sparse checkout, signature verification

pub mod verify;
