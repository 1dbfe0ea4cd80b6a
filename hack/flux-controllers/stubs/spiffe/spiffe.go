// Package spiffe stands in for github.com/fluxcd/pkg/spiffe v0.2.0, which the Go module proxy
// does not serve, so that Flux's controllers v1.10.1 can be built as Eddy's reference.
//
// Only the names the controllers use exist. SPIFFE is off unless one of the flags below is
// given; with one, the stub refuses to start (BuildTLSConfig fails), so a reference run never
// silently lacks a feature it asked for. The flag names are this stub's: upstream's are not
// available to check.
package spiffe

import (
	"crypto/tls"
	"errors"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// Flag names of the SPIFFE options.
const (
	ControllerFlagSPIFFEBrokerEndpoint             = "spiffe-broker-endpoint"
	ControllerFlagSPIFFEBrokerID                   = "spiffe-broker-id"
	ControllerFlagAuthorizedEventServerSPIFFEID    = "authorized-event-server-spiffe-id"
	ControllerFlagAuthorizedArtifactClientSPIFFEID = "authorized-artifact-client-spiffe-id"
	ControllerFlagAuthorizedArtifactServerSPIFFEID = "authorized-artifact-server-spiffe-id"
)

// ErrUnavailable is returned by every SPIFFE operation of this stub.
var ErrUnavailable = errors.New("SPIFFE is not available in Eddy's reference build of the Flux controllers (github.com/fluxcd/pkg/spiffe is a stub)")

// BuildTLSConfig always fails: inter-controller mTLS is not available in this build.
func BuildTLSConfig(_ *workloadapi.X509Source, _ ...string) (*tls.Config, error) {
	return nil, ErrUnavailable
}
