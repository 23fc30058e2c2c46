package workerpool

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/artifact"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/protobuf/proto"
)

func TestServeBadAddress(t *testing.T) {
	for _, addr := range []string{"50000", "localhost", ":port", ":0", ":70000"} {
		err := Serve(context.Background(), addr)
		if err == nil || !strings.Contains(err.Error(), "--worker_pool") {
			t.Errorf("Serve(%q): %v, want an error naming --worker_pool", addr, err)
		}
	}
}

func fileArtifact(t *testing.T, path, role string) *pipepb.ArtifactInformation {
	t.Helper()
	b, err := proto.Marshal(&pipepb.ArtifactFilePayload{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return &pipepb.ArtifactInformation{TypeUrn: artifact.URNFileArtifact, TypePayload: b, RoleUrn: role}
}

func TestWorkerArtifact(t *testing.T) {
	one := []*pipepb.ArtifactInformation{fileArtifact(t, "1-worker", "")}
	if got, err := workerArtifact(one); err != nil || got != "1-worker" {
		t.Errorf("one artifact: %q, %v", got, err)
	}
	two := []*pipepb.ArtifactInformation{fileArtifact(t, "a-data", ""), fileArtifact(t, "b-bin", artifact.URNGoWorkerBinaryRole)}
	if got, err := workerArtifact(two); err != nil || got != "b-bin" {
		t.Errorf("two artifacts: %q, %v", got, err)
	}
	if _, err := workerArtifact(two[:1:1][:0]); err == nil {
		t.Error("no artifact: no error")
	}
	if _, err := workerArtifact(append(two[:1:1], fileArtifact(t, "c", ""))); err == nil {
		t.Error("no worker binary among two: no error")
	}
}
