package bencode

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzBencodeDecode checks that Decode never panics and that everything it
// accepts is canonical: re-encoding reproduces the input byte for byte.
func FuzzBencodeDecode(f *testing.F) {
	for _, s := range []string{
		"i0e", "i-42e", "4:spam", "le", "de", "l4:spami42ee",
		"d3:cow3:moo4:spam4:eggse", "d8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e",
		"d1:b0:1:a0:e", "i03e", "99999999999:", "lllllllllle",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			return
		}
		out, err := Encode(v)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)): %v", data, err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("not canonical: in %q out %q", data, out)
		}
		v2, err := Decode(out)
		if err != nil || !reflect.DeepEqual(v, v2) {
			t.Fatalf("second decode differs: %v", err)
		}
	})
}
