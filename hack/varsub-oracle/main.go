// Command varsub-oracle runs Flux's own post-build substitution (fluxcd/pkg/kustomize v1.44.0,
// the version kustomize-controller v1.10.1 uses) over a kustomize build, so eddy-kustomize's
// varsub can be compared with it: it builds DIR as kustomize-controller does, substitutes
// the NAME VALUE pairs in strict mode and prints each object as one line of JSON, or Flux's
// error message on stderr. With -generate it runs Flux's generator instead (as
// kustomize-controller does before building): SPEC is a Kustomization's spec as JSON, DIR the
// directory the kustomization file is generated or overlaid in, confined to ROOT.
//
//	cd hack/varsub-oracle && GOTOOLCHAIN=go1.27.3 go run . DIR [NAME VALUE]...
//	cd hack/varsub-oracle && GOTOOLCHAIN=go1.27.3 go run . -generate ROOT DIR SPEC
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: varsub-oracle DIR [NAME VALUE]...")
		os.Exit(2)
	}
	if os.Args[1] == "-generate" {
		generate()
		return
	}
	vars := map[string]interface{}{}
	for i := 2; i+1 < len(os.Args); i += 2 {
		vars[os.Args[i]] = os.Args[i+1]
	}
	ks := unstructured.Unstructured{Object: map[string]interface{}{
		"spec": map[string]interface{}{"postBuild": map[string]interface{}{"substitute": vars}},
	}}
	m, err := kustomize.Build(filesys.MakeFsOnDisk(), os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, res := range m.Resources() {
		// As kustomize-controller: the inline variables, strict, no cluster access.
		out, err := kustomize.SubstituteVariables(context.Background(), nil, ks, res,
			kustomize.SubstituteWithDryRun(true), kustomize.SubstituteWithStrict(true))
		if err != nil {
			fmt.Fprintf(os.Stderr, "post build failed for '%s/%s': %v\n", res.GetGvk(), res.GetName(), err)
			os.Exit(1)
		}
		if out != nil {
			if _, err := m.Replace(res); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
	for _, res := range m.Resources() {
		j, err := res.MarshalJSON()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(string(j))
	}
}

func generate() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: varsub-oracle -generate ROOT DIR SPEC")
		os.Exit(2)
	}
	var spec map[string]interface{}
	if err := json.Unmarshal([]byte(os.Args[4]), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ks := unstructured.Unstructured{Object: map[string]interface{}{"spec": spec}}
	if _, err := kustomize.NewGenerator(os.Args[2], ks).WriteFile(os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
