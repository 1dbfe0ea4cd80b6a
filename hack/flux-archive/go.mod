module eddy.local/hack/flux-archive

go 1.22
