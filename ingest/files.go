package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// fileProblem says why path cannot be a clip's media file ("is a directory", "is a named pipe
// …"), or returns "" for a regular file or a symbolic link to one. It only looks at the file's
// metadata, never opens it: opening a named pipe blocks until something writes to it.
func fileProblem(path string) string {
	st, err := os.Stat(path)
	if err == nil {
		return modeProblem(st.Mode())
	}
	switch {
	case errors.Is(err, syscall.ELOOP):
		return "is a symbolic link loop"
	case errors.Is(err, fs.ErrNotExist):
		if _, lerr := os.Lstat(path); lerr == nil {
			return "is a broken symbolic link: its target is missing"
		}
		return "does not exist"
	case errors.Is(err, syscall.ENOTDIR):
		return "does not exist: a part of its path is a file, not a folder"
	case errors.Is(err, fs.ErrPermission):
		return "cannot be reached: permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot be read: " + pe.Err.Error()
	}
	return "cannot be read: " + err.Error()
}

// modeProblem says why a file of mode m is not a media file, or "" for a regular file.
func modeProblem(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return ""
	case m.IsDir():
		return "is a directory, not a media file"
	case m&fs.ModeNamedPipe != 0:
		return "is a named pipe (FIFO), not a regular file: reading it would wait for a writer"
	case m&fs.ModeSocket != 0:
		return "is a socket, not a regular file"
	case m&fs.ModeDevice != 0:
		return "is a device, not a regular file"
	}
	return fmt.Sprintf("is not a regular file (mode %s)", m)
}

// rejectFileProblems moves the clips whose media or audio file has a problem (problem returns
// its reason, or "" when the file is fine) from ds.Clips to ds.Rejected.
func (ds *Dataset) rejectFileProblems(problem func(path string) string) {
	kept := ds.Clips[:0]
	for _, c := range ds.Clips {
		what, path := "media file", c.Path
		p := problem(path)
		if p == "" && c.AudioPath != "" {
			what, path = "audio file", c.AudioPath
			p = problem(path)
		}
		if p != "" {
			ds.Rejected = append(ds.Rejected, Rejected{ClipID: c.ID, Path: path, Reason: fmt.Sprintf("%s %s %s", what, path, p)})
			continue
		}
		kept = append(kept, c)
	}
	ds.Clips = kept
}
