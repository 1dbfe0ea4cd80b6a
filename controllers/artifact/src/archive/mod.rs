//! Artifact tarballs: writing a directory exactly as Flux does ([`write_tar_gz`]), extracting
//! one safely ([`extract`]), and copying part of one into a directory ([`copy_to_path`]).

mod extract;
mod header;
mod include;
mod write;

pub use extract::{DEFAULT_MAX_UNTAR_SIZE, ExtractError, ExtractLimits, ExtractSummary, extract, extract_tar};
pub use include::{IncludeError, copy_to_path};
pub use write::{ArchiveError, ArchiveFilter, DIR_MODE, EXE_FILE_MODE, FILE_MODE, write_tar, write_tar_gz};
