// Package v1 stands in for github.com/fluxcd/pkg/apis/crypto/v1 of apis/crypto v0.5.0, which
// the Go module proxy does not serve, so that Flux's controllers v1.10.1 can be built as
// Eddy's reference.
//
// Only the names the controllers and github.com/fluxcd/pkg/auth use exist. BuildSpec returns
// an empty specification (no workload identity) unless a cloud provider is asked for, which
// it refuses: Git, Helm, OCI and Bucket sources with the generic provider, Secrets or no
// credentials at all take the same paths as upstream; workload identity (AWS, Azure, GCP,
// SPIFFE, ServiceAccount annotations) is not available in this build.
package v1

import (
	"errors"
	"time"
)

// Providers.
const (
	ProviderAWS   = "aws"
	ProviderAzure = "azure"
	ProviderGCP   = "gcp"
)

// Credential providers and types.
const (
	CredentialProviderKubernetes = "kubernetes"
	CredentialProviderSPIFFE     = "spiffe"
	CredentialTypeJWT            = "jwt"
)

// Audiences and registries the cloud providers use.
const (
	DefaultAudienceAWS   = "sts.amazonaws.com"
	DefaultAudienceAzure = "api://AzureADTokenExchange"
	RegistryAWSPublicECR = "public.ecr.aws"
)

// ErrUnavailable is returned for anything that needs workload identity.
var ErrUnavailable = errors.New("workload identity is not available in Eddy's reference build of the Flux controllers (github.com/fluxcd/pkg/apis/crypto is a stub)")

// Spec is a validated authentication configuration.
type Spec struct {
	Auth *AuthSpec
}

// AuthSpec configures how a controller obtains credentials.
type AuthSpec struct {
	Credential    *CredentialSpec
	AWS           *AWSSpec
	Azure         *AzureSpec
	GCP           *GCPSpec
	DockerHub     *DockerHubSpec
	TransitEngine *TransitEngineSpec
}

// OptedIn reports whether a credential was configured; never in this build.
func (a *AuthSpec) OptedIn() bool {
	return a != nil && a.Credential != nil
}

// CredentialSpec is a requested short-lived credential.
type CredentialSpec struct {
	Provider   string
	Type       string
	Expiration time.Duration
	Username   string
	Audiences  []string
}

// AWSSpec is AWS workload identity.
type AWSSpec struct {
	RoleARN     string
	STSEndpoint string
	Cluster     *AWSClusterSpec
}

// AWSClusterSpec names an EKS cluster.
type AWSClusterSpec struct {
	Region string
	Name   string
}

// AzureSpec is Azure workload identity.
type AzureSpec struct {
	TenantID string
	ClientID string
	Cluster  *AzureClusterSpec
}

// AzureClusterSpec names an AKS cluster.
type AzureClusterSpec struct {
	SubscriptionID string
	ResourceGroup  string
	Name           string
}

// GCPSpec is GCP workload identity.
type GCPSpec struct {
	WorkloadIdentityProvider string
	ServiceAccount           string
}

// DockerHubSpec is Docker Hub OIDC.
type DockerHubSpec struct {
	OIDCConnectionID string
}

// TransitEngineSpec is a Vault transit engine login.
type TransitEngineSpec struct {
	LoginPath string
	Role      string
}
