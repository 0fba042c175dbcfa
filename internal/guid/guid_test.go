package guid

import "testing"

func TestNew(t *testing.T) {
	a, b := New(), New()
	if a == b || !Valid(a) || a[14] != '4' {
		t.Errorf("New() = %q, %q: want two different version-4 GUIDs", a, b)
	}
}

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"0f8fad5b-d9cb-469f-a165-70867728950e": true,
		"0F8FAD5B-D9CB-469F-A165-70867728950E": true,
		"0f8fad5b-d9cb-469f-a165-70867728950":  false,
		"0f8fad5bd-9cb-469f-a165-70867728950e": false,
		"0f8fad5b-d9cb-469f-a165-70867728950g": false,
		"":                                     false,
	} {
		if Valid(s) != want {
			t.Errorf("Valid(%q) = %v", s, !want)
		}
	}
}
