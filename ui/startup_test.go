package ui

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// quitCounter is a test app that counts Quit calls.
type quitCounter struct {
	fyne.App
	quits int
}

func (a *quitCounter) Quit() { a.quits++ }

func TestStartupErrorWindowSaysWhyAndQuits(t *testing.T) {
	a := &quitCounter{App: test.NewTempApp(t)}
	why := errors.New("another Earshot (process 4242) is already signed in to https://scanner.example.org as alice")
	w := StartupErrorWindow(a, why)
	w.Show()
	var texts []string
	var quit *widget.Button
	walk(w.Content(), func(o fyne.CanvasObject) {
		switch v := o.(type) {
		case *widget.Label:
			texts = append(texts, v.Text)
		case *widget.Button:
			if v.Text == "Quit" {
				quit = v
			}
		}
	})
	all := strings.Join(texts, "\n")
	if !strings.Contains(all, "Earshot could not start") || !strings.Contains(all, why.Error()) {
		t.Fatalf("window says %q", all)
	}
	if quit == nil {
		t.Fatal("no Quit button")
	}
	test.Tap(quit)
	if a.quits != 1 {
		t.Fatalf("Quit tapped: app quit %d times", a.quits)
	}
	w.Close() // closing the window quits too
	if a.quits != 2 {
		t.Fatalf("window closed: app quit %d times in all", a.quits)
	}
}

// walk visits o and every object in the containers under it.
func walk(o fyne.CanvasObject, visit func(fyne.CanvasObject)) {
	visit(o)
	if c, ok := o.(*fyne.Container); ok {
		for _, child := range c.Objects {
			walk(child, visit)
		}
	}
}
