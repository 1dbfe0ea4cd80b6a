package v1

// Option is an input of BuildSpec.
type Option func(*options)

type options struct {
	provider string
}

// WithServiceProvider names the provider (aws, azure, gcp, generic, github, ...).
func WithServiceProvider(provider string) Option {
	return func(o *options) { o.provider = provider }
}

// WithAnnotations passes a ServiceAccount's annotations (ignored: no workload identity).
func WithAnnotations(map[string]string) Option { return func(*options) {} }

// WithSecretRefCerts says TLS material comes from a Secret.
func WithSecretRefCerts() Option { return func(*options) {} }

// WithSecretRefAuth says credentials come from a Secret.
func WithSecretRefAuth() Option { return func(*options) {} }

// WithGitHubEnterpriseServer says the GitHub App targets GitHub Enterprise Server.
func WithGitHubEnterpriseServer() Option { return func(*options) {} }

// WithSTSEndpoint sets a Bucket's STS provider and endpoint.
func WithSTSEndpoint(string, string) Option { return func(*options) {} }

// WithCertSecretRef says a certificate Secret is referenced.
func WithCertSecretRef() Option { return func(*options) {} }

// WithOCI says the configuration is for an OCI registry.
func WithOCI() Option { return func(*options) {} }

// WithImagePullSecrets says the ServiceAccount has image pull secrets.
func WithImagePullSecrets() Option { return func(*options) {} }

// WithSOPSVaultConfigMap says a SOPS Vault ConfigMap is referenced.
func WithSOPSVaultConfigMap() Option { return func(*options) {} }

// WithKubeConfigCluster sets the remote cluster of a kubeconfig ConfigMap.
func WithKubeConfigCluster(string) Option { return func(*options) {} }

// WithKubeConfigAudiences sets the audiences of a kubeconfig ConfigMap.
func WithKubeConfigAudiences(string) Option { return func(*options) {} }

// BuildSpec returns an empty specification, or ErrUnavailable for a cloud provider.
func BuildSpec(opts ...Option) (*Spec, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	switch o.provider {
	case ProviderAWS, ProviderAzure, ProviderGCP:
		return nil, ErrUnavailable
	}
	return &Spec{Auth: &AuthSpec{}}, nil
}
