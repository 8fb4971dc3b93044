package led

import (
	"image/color"
	"testing"
)

func TestParseAndHex(t *testing.T) {
	for in, want := range map[string]string{
		"red": "#ff3b30", " Blue ": "#007aff", "#F00": "#ff0000", "#12ab9F": "#12ab9f",
		"": Default, "nonsense": Default, "#12345": Default, "#ggg": Default,
	} {
		if got := Hex(in); got != want {
			t.Errorf("Hex(%q) = %s, want %s", in, got, want)
		}
	}
	if c, ok := Parse("#0a0b0c"); !ok || c != (color.NRGBA{10, 11, 12, 255}) {
		t.Errorf("Parse = %v, %v", c, ok)
	}
}
