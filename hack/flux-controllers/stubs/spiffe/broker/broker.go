// Package broker stands in for github.com/fluxcd/pkg/spiffe/broker v0.2.0 (see package
// spiffe): the SPIFFE Broker API client is not available in this build.
package broker

import (
	"context"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/fluxcd/pkg/spiffe"
)

// KubernetesObjectReference names the Kubernetes object a JWT-SVID is asked for.
type KubernetesObjectReference struct {
	Group     string
	Kind      string
	Namespace string
	Name      string
	UID       string
}

// Interface fetches JWT-SVIDs on behalf of Kubernetes objects.
type Interface interface {
	FetchJWTSVID(ctx context.Context, ref KubernetesObjectReference, audiences []string) (*jwtsvid.SVID, error)
}

// Client is a closable Interface.
type Client interface {
	Interface
	Close() error
}

// New always fails: the SPIFFE Broker API is not available in this build.
func New(_ string, _ []string, _ *workloadapi.X509Source) (Client, error) {
	return nil, spiffe.ErrUnavailable
}
