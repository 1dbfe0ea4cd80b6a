//! The GitRepository's conditions and reasons, as source-controller's API package names them,
//! and the set its `Ready` condition is summarised from.

use eddy_controller_runtime::conditions::types::{READY, RECONCILING, STALLED};
use eddy_controller_runtime::summarize::ReadyConditions;

/// The artifact in storage matches the spec.
pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
/// A newer revision (or other content) than the stored artifact exists.
pub const ARTIFACT_OUTDATED: &str = "ArtifactOutdated";
/// Fetching from Git failed.
pub const FETCH_FAILED: &str = "FetchFailed";
/// An included GitRepository is missing or has no artifact.
pub const INCLUDE_UNAVAILABLE: &str = "IncludeUnavailable";
/// A storage operation failed.
pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
/// The signatures of the source were verified (or failed to verify).
pub const SOURCE_VERIFIED: &str = "SourceVerified";

/// Reasons source-controller uses for GitRepositories.
pub mod reasons {
    /// The URL cannot be parsed (a stall).
    pub const URL_INVALID: &str = "URLInvalid";
    /// Credentials could not be read or used.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// A Git operation failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// Nothing changed since the last artifact.
    pub const GIT_OPERATION_SUCCEEDED: &str = "GitOperationSucceeded";
    /// The repository has no commits.
    pub const EMPTY_GIT_REPOSITORY: &str = "EmptyGitRepository";
    /// The stored artifact did not match its digest.
    pub const ARTIFACT_VERIFICATION_FAILED: &str = "ArtifactVerificationFailed";
    /// The working directory could not be created.
    pub const DIR_CREATION_FAILED: &str = "DirectoryCreationFailed";
    /// The working directory could not be read.
    pub const STAT_OPERATION_FAILED: &str = "StatOperationFailed";
    /// The working directory is not a directory.
    pub const INVALID_PATH: &str = "InvalidPath";
    /// Archiving failed.
    pub const ARCHIVE_OPERATION_FAILED: &str = "ArchiveOperationFailed";
    /// The artifact is already up to date.
    pub const ARTIFACT_UP_TO_DATE: &str = "ArtifactUpToDate";
    /// A new artifact was stored.
    pub const NEW_ARTIFACT: &str = "NewArtifact";
    /// Old artifacts were collected.
    pub const GARBAGE_COLLECTION_SUCCEEDED: &str = "GarbageCollectionSucceeded";
    /// Collecting old artifacts failed.
    pub const GARBAGE_COLLECTION_FAILED: &str = "GarbageCollectionFailed";
    /// A status patch failed.
    pub const PATCH_OPERATION_FAILED: &str = "PatchOperationFailed";
    /// The provider settings are inconsistent.
    pub const INVALID_PROVIDER_CONFIGURATION: &str = "InvalidProviderConfiguration";
    /// The verification Secret could not be read.
    pub const VERIFICATION_ERROR: &str = "VerificationError";
    /// The HEAD commit's signature did not verify.
    pub const INVALID_COMMIT_SIGNATURE: &str = "InvalidCommitSignature";
    /// The tag's signature did not verify.
    pub const INVALID_TAG_SIGNATURE: &str = "InvalidTagSignature";
    /// The tag to verify is not signed.
    pub const INVALID_GIT_OBJECT: &str = "InvalidGitObject";
    /// `Tag` verification without a tag reference.
    pub const INVALID_VERIFICATION_MODE: &str = "InvalidVerificationMode";
    /// An include's target path is not allowed.
    pub const ILLEGAL_PATH: &str = "IllegalPath";
    /// Copying an include failed.
    pub const COPY_FAILURE: &str = "CopyFailure";
    /// Reading `.sourceignore` files failed.
    pub const SOURCE_IGNORE_ERROR: &str = "SourceIgnoreError";
    /// A missing include.
    pub const NOT_FOUND: &str = "NotFound";
    /// An include without an artifact.
    pub const NO_ARTIFACT: &str = "NoArtifact";
    /// The artifact lock could not be taken.
    pub const FAILED: &str = "Failed";
}

/// Event actions (events.k8s.io `action`), as source-controller's API names them.
pub mod actions {
    /// The whole reconcile.
    pub const RECONCILE: &str = "Reconcile";
    /// The storage step.
    pub const RECONCILE_STORAGE: &str = "ReconcileStorage";
    /// The artifact step.
    pub const RECONCILE_ARTIFACT: &str = "ReconcileArtifact";
    /// Signature verification.
    pub const VERIFY_SOURCE: &str = "VerifySource";
    /// Garbage collection.
    pub const GARBAGE_COLLECT: &str = "GarbageCollect";
    /// Deletion.
    pub const FINALIZE: &str = "Finalize";
}

/// What `Ready` is made of (source-controller's `gitRepositoryReadyCondition`), with
/// `SourceVerified` as the bi-polarity condition.
pub const READY_CONDITIONS: ReadyConditions = ReadyConditions {
    owned: &[
        STORAGE_OPERATION_FAILED,
        FETCH_FAILED,
        INCLUDE_UNAVAILABLE,
        ARTIFACT_OUTDATED,
        ARTIFACT_IN_STORAGE,
        SOURCE_VERIFIED,
        READY,
        RECONCILING,
        STALLED,
    ],
    summarize: &[
        STORAGE_OPERATION_FAILED,
        FETCH_FAILED,
        INCLUDE_UNAVAILABLE,
        ARTIFACT_OUTDATED,
        ARTIFACT_IN_STORAGE,
        SOURCE_VERIFIED,
        STALLED,
        RECONCILING,
    ],
    negative_polarity: &[
        STORAGE_OPERATION_FAILED,
        FETCH_FAILED,
        INCLUDE_UNAVAILABLE,
        ARTIFACT_OUTDATED,
        STALLED,
        RECONCILING,
    ],
    bipolarity: &[SOURCE_VERIFIED],
};

/// The conditions whose disappearance is a recovery (a `Succeeded` event).
pub const FAIL_CONDITIONS: &[&str] = &[FETCH_FAILED, INCLUDE_UNAVAILABLE, STORAGE_OPERATION_FAILED];
