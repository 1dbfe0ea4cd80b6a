module eddy.local/hack/semver-oracle

go 1.22

require github.com/Masterminds/semver/v3 v3.5.0
