// Command controlplane is a multi-call binary holding the upstream Kubernetes control-plane
// components (kube-apiserver, kube-controller-manager, kube-scheduler) and etcd, so that one
// link step produces all four. It dispatches on the name it is invoked as (hack/build-controlplane
// creates symlinks with those names) or, failing that, on its first argument:
//
//	kube-apiserver --etcd-servers=...        (via the symlink)
//	controlplane kube-apiserver --etcd-servers=...
//
// Each entry point is the same one the upstream main package calls; nothing is changed.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	_ "time/tzdata" // CronJob time zones, as upstream kube-apiserver and kube-controller-manager

	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

var commands = map[string]func(){
	"kube-apiserver":          func() { os.Exit(cli.Run(apiserver.NewAPIServerCommand())) },
	"kube-controller-manager": func() { os.Exit(cli.Run(controllermanager.NewControllerManagerCommand())) },
	"kube-scheduler":          func() { os.Exit(cli.Run(scheduler.NewSchedulerCommand())) },
	"etcd":                    func() { etcdmain.Main(os.Args); os.Exit(0) },
}

func main() {
	if run, ok := commands[filepath.Base(os.Args[0])]; ok {
		run()
	}
	if len(os.Args) > 1 {
		if run, ok := commands[os.Args[1]]; ok {
			// The component sees itself as the program and the rest as its arguments.
			os.Args = os.Args[1:]
			run()
		}
	}
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: %s COMPONENT [FLAGS...] (or invoke through a symlink named COMPONENT)\ncomponents: %v\n",
		filepath.Base(os.Args[0]), names)
	os.Exit(2)
}
