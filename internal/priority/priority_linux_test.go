package priority_test

import (
	"runtime"
	"testing"

	"github.com/cairnbackup/cairn/internal/priority"
)

// onNewThread runs fn on a goroutine locked to an OS thread that ends
// with it, so the test's own threads keep their priorities.
func onNewThread(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		fn()
	}()
	<-done
}

func TestThreadIO(t *testing.T) {
	onNewThread(func() {
		if err := priority.SetThreadIO(priority.IOBestEffort, 6); err != nil {
			t.Fatal(err)
		}
		if c, l, err := priority.ThreadIO(); err != nil || c != priority.IOBestEffort || l != 6 {
			t.Errorf("after best-effort:6: class %d level %d, %v", c, l, err)
		}
		if err := priority.SetThreadIO(priority.IOIdle, 0); err != nil {
			t.Fatal(err)
		}
		if c, _, err := priority.ThreadIO(); err != nil || c != priority.IOIdle {
			t.Errorf("after idle: class %d, %v", c, err)
		}
	})
	if c, _, _ := priority.ThreadIO(); c == priority.IOIdle {
		t.Errorf("another thread's class changed")
	}
}

func TestThreadNice(t *testing.T) {
	before, err := priority.ThreadNice()
	if err != nil {
		t.Fatal(err)
	}
	onNewThread(func() {
		if err := priority.SetThreadNice(before + 5); err != nil {
			t.Fatal(err)
		}
		if n, err := priority.ThreadNice(); err != nil || n != before+5 {
			t.Errorf("niceness %d, %v; want %d", n, err, before+5)
		}
	})
	if n, _ := priority.ThreadNice(); n != before {
		t.Errorf("this thread's niceness moved from %d to %d", before, n)
	}
}

func TestParseIOClass(t *testing.T) {
	for in, want := range map[string]priority.IOClass{"idle": priority.IOIdle, "best-effort": priority.IOBestEffort, "": priority.IONone} {
		if got, err := priority.ParseIOClass(in); err != nil || got != want {
			t.Errorf("%q: %d, %v", in, got, err)
		}
	}
	if _, err := priority.ParseIOClass("realtime"); err == nil {
		t.Error("realtime accepted")
	}
}
