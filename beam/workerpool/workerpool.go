// Package workerpool makes avbalance-beam its own Beam worker pool, for
// runners that start SDK workers through an EXTERNAL environment
// (--environment_type EXTERNAL --environment_config HOST:PORT), such as a
// prism or Flink job server.
//
// Serve answers the runner's StartWorker requests by starting this binary again
// as the worker's boot loader, one process per worker (a runner's PROCESS
// environment can start it as the boot loader directly). Boot, in that process,
// asks the runner's provision service for the job's pipeline options, fetches
// the worker binary the launcher staged (--worker_binary) from the artifact
// service and replaces itself with it, in worker mode (--worker). It follows
// the Go SDK container's boot program (sdks/go/container/boot.go, whose
// --worker_pool mode also uses container/pool), without its Dataflow extras
// (profiler, heap dumps). The worker then removes its staged copy (Cleanup),
// so nothing is left in the temp folder.
package workerpool

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/apache/beam/sdks/v2/go/container/pool"
	"github.com/apache/beam/sdks/v2/go/container/tools"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/artifact"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"
)

// stagedEnv names the folder holding the staged worker binary, set by Boot
// for the worker it starts, which removes it (Cleanup).
const stagedEnv = "AVBALANCE_BEAM_STAGED_DIR"

// BootFlags are the flags a worker pool starts its boot loader with, besides
// --id, --logging_endpoint and --control_endpoint, which the Beam SDK's
// harness defines on the command line's flag set.
type BootFlags struct {
	Provision, Artifact string
}

// RegisterBootFlags adds --provision_endpoint and --artifact_endpoint to the
// command line's flag set, beside the harness's own.
func RegisterBootFlags() *BootFlags {
	b := &BootFlags{}
	fs := flag.CommandLine
	fs.StringVar(&b.Provision, "provision_endpoint", "", "set by a Beam worker pool: the runner's provision service (boot loader mode)")
	fs.StringVar(&b.Artifact, "artifact_endpoint", "", "set by a Beam worker pool: the runner's artifact service (boot loader mode)")
	return b
}

// IsBoot reports whether the process was started by a worker pool as a boot loader.
func (b *BootFlags) IsBoot() bool { return b.Provision != "" }

// Serve runs a worker pool on addr ("HOST:PORT" or ":PORT"; the pool listens
// on PORT on every interface, as Beam's does) until ctx is done. Each worker
// it starts is this executable in boot-loader mode.
func Serve(ctx context.Context, addr string) error {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--worker_pool %q: want HOST:PORT or :PORT", addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return fmt.Errorf("--worker_pool %q: the port must be a number from 1 to 65535", addr)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv, err := pool.New(ctx, port, self)
	if err != nil {
		return fmt.Errorf("worker pool on %s: %w", addr, err)
	}
	go func() {
		<-ctx.Done()
		srv.Stop(context.Background())
	}()
	if err := srv.ServeAndWait(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// Boot turns this process into the SDK worker the pool was asked for: it reads
// the job's provision info, fetches the staged worker binary into a temp
// folder and executes it with the worker flags. It returns only on an error.
func (b *BootFlags) Boot(ctx context.Context) error {
	// prism's PROCESS environment passes --id='ID' without a shell, quotes and all.
	id := strings.Trim(lookup("id"), "'")
	if id == "" {
		return errors.New("boot: no worker --id given")
	}
	ctx = grpcx.WriteWorkerID(ctx, id)
	info, err := tools.ProvisionInfo(ctx, b.Provision)
	if err != nil {
		return fmt.Errorf("boot: provision info: %w", err)
	}
	logging, control, artifacts := lookup("logging_endpoint"), lookup("control_endpoint"), b.Artifact
	if u := info.GetLoggingEndpoint().GetUrl(); u != "" {
		logging = u
	}
	if u := info.GetControlEndpoint().GetUrl(); u != "" {
		control = u
	}
	if u := info.GetArtifactEndpoint().GetUrl(); u != "" {
		artifacts = u
	}
	if logging == "" || control == "" || artifacts == "" {
		return fmt.Errorf("boot: the runner gave no logging, control or artifact endpoint (%q, %q, %q)", logging, control, artifacts)
	}
	options, err := tools.ProtoToJSON(info.GetPipelineOptions())
	if err != nil {
		return fmt.Errorf("boot: pipeline options: %w", err)
	}
	po := tools.ParseOptionsFromProto(info.GetPipelineOptions(), "go_options")
	ctx = artifact.WithArtifactValidation(ctx, !po.HasExperiment("disable_staged_file_integrity_checks"))

	dir, err := os.MkdirTemp("", "avbalance-beam-worker-")
	if err != nil {
		return err
	}
	staged, err := artifact.Materialize(ctx, artifacts, info.GetDependencies(), info.GetRetrievalToken(), dir)
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("boot: fetch the staged worker binary: %w", err)
	}
	name, err := workerArtifact(staged)
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("boot: %w", err)
	}
	prog := filepath.Join(dir, name)
	if err := os.Chmod(prog, 0o755); err != nil {
		os.RemoveAll(dir)
		return err
	}
	env := append(os.Environ(), stagedEnv+"="+dir)
	if u := info.GetStatusEndpoint().GetUrl(); u != "" {
		env = append(env, "STATUS_ENDPOINT="+u)
	}
	if caps := info.GetRunnerCapabilities(); len(caps) > 0 {
		env = append(env, "RUNNER_CAPABILITIES="+strings.Join(caps, " "))
	}
	args := []string{prog, "--worker=true", "--id=" + id, "--logging_endpoint=" + logging,
		"--control_endpoint=" + control, "--semi_persist_dir=" + lookup("semi_persist_dir"), "--options=" + options}
	// Replace this process, so the pool's StopWorker (which kills the process it
	// started) stops the worker itself.
	err = syscall.Exec(prog, args, env)
	os.RemoveAll(dir)
	return fmt.Errorf("boot: start the worker %s: %w", prog, err)
}

// Cleanup removes the staged worker binary Boot started this process from (a
// running executable may be unlinked on Linux). Call it first thing in main.
func Cleanup() {
	if dir := os.Getenv(stagedEnv); dir != "" {
		os.RemoveAll(dir)
		os.Unsetenv(stagedEnv)
	}
}

// workerArtifact returns the staged name of the Go worker binary: the only
// artifact, or the one with the Go worker binary role.
func workerArtifact(staged []*pipepb.ArtifactInformation) (string, error) {
	if len(staged) == 1 {
		name, _ := artifact.MustExtractFilePayload(staged[0])
		return name, nil
	}
	for _, a := range staged {
		if a.GetRoleUrn() == artifact.URNGoWorkerBinaryRole {
			name, _ := artifact.MustExtractFilePayload(a)
			return name, nil
		}
	}
	return "", fmt.Errorf("no Go worker binary among the %d staged artifacts: submit with --worker_binary", len(staged))
}

func lookup(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}
