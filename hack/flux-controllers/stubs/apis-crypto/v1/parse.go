package v1

// ParseArtifactRepository always fails in this build.
func ParseArtifactRepository(string, string) (string, error) { return "", ErrUnavailable }

// GetRegistryFromArtifactRepository always fails in this build.
func GetRegistryFromArtifactRepository(string) (string, error) { return "", ErrUnavailable }

// ParseClusterAddress always fails in this build.
func ParseClusterAddress(string) (string, error) { return "", ErrUnavailable }

// ParseGitRepository always fails in this build.
func ParseGitRepository(string, string) (string, error) { return "", ErrUnavailable }

// GetAWSRegionFromCodeCommitURL always fails in this build.
func GetAWSRegionFromCodeCommitURL(string) (string, error) { return "", ErrUnavailable }

// GetAWSRegionFromArtifactRegistryInput returns no region in this build.
func GetAWSRegionFromArtifactRegistryInput(string) string { return "" }

// GetAWSRoleSessionName returns no session name in this build.
func GetAWSRoleSessionName(string, string, string) string { return "" }

// GetDefaultAudienceGCP returns no audience in this build.
func GetDefaultAudienceGCP(string) string { return "" }
