//! The source controllers (GitRepository first): turn a Git revision into a stored, digested artifact, as Flux's source-controller does
