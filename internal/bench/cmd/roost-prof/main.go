// Command roost-prof runs the Roost server in-process, like "roost serve",
// with Go's profiling endpoints on a second loopback address, so that a
// benchmark client can be profiled against the real server:
//
//	roost-prof -c roost.conf -pprof 127.0.0.1:6061 &
//	go tool pprof -top http://127.0.0.1:6061/debug/pprof/profile?seconds=20
//
// It exists only for benchmarks; the shipped binary has no profiling hooks.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/roost-mail/roost/internal/app"
	"github.com/roost-mail/roost/internal/config"
)

func main() {
	conf := flag.String("c", "roost.conf", "configuration file")
	pprofAddr := flag.String("pprof", "127.0.0.1:6061", "serve /debug/pprof here")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
	flag.Parse()
	cfg, err := config.Load(*conf)
	if err != nil {
		log.Fatal(err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	go func() { log.Println(http.ListenAndServe(*pprofAddr, nil)) }()
	lg := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.Start(cfg, lg)
	if err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	a.Shutdown(context.Background())
}
