package bencode

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{int64(0), "i0e"},
		{int64(-1), "i-1e"},
		{int64(42), "i42e"},
		{int64(math.MaxInt64), "i9223372036854775807e"},
		{int64(math.MinInt64), "i-9223372036854775808e"},
		{"", "0:"},
		{"spam", "4:spam"},
		{"\x00\xff\n", "3:\x00\xff\n"},
		{[]any{}, "le"},
		{[]any{"spam", int64(42)}, "l4:spami42ee"},
		{map[string]any{}, "de"},
		{map[string]any{"cow": "moo", "spam": "eggs"}, "d3:cow3:moo4:spam4:eggse"},
		{map[string]any{"b": int64(1), "a": []any{map[string]any{"\xff": "", "\x00": ""}}}, "d1:ald1:\x000:1:\xff0:ee1:bi1ee"},
	}
	for _, c := range cases {
		got, err := Encode(c.v)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", c.v, err)
		}
		if string(got) != c.want {
			t.Errorf("Encode(%#v) = %q, want %q", c.v, got, c.want)
		}
		back, err := Decode(got)
		if err != nil {
			t.Fatalf("Decode(%q): %v", got, err)
		}
		if !reflect.DeepEqual(back, c.v) {
			t.Errorf("Decode(%q) = %#v, want %#v", got, back, c.v)
		}
	}
}

func TestEncodeOtherTypes(t *testing.T) {
	v := map[string]any{
		"a": 1, "b": int8(-2), "c": int16(3), "d": int32(4), "e": uint(5), "f": uint8(6),
		"g": uint16(7), "h": uint32(8), "i": uint64(math.MaxUint64), "j": []byte("xy"),
		"k": []string{"p", "q"}, "l": []map[string]any{{"z": 0}},
	}
	got, err := Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	want := "d1:ai1e1:bi-2e1:ci3e1:di4e1:ei5e1:fi6e1:gi7e1:hi8e1:ii18446744073709551615e1:j2:xy1:kl1:p1:qe1:lld1:zi0eeee"
	if string(got) != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestEncodeErrors(t *testing.T) {
	if _, err := Encode(nil); err == nil {
		t.Error("nil: no error")
	}
	if _, err := Encode(3.5); err == nil {
		t.Error("float: no error")
	}
	if _, err := Encode(map[string]any{"x": struct{}{}}); err == nil {
		t.Error("struct in map: no error")
	}
	// A self-containing list must fail, not recurse forever.
	cyc := []any{nil}
	cyc[0] = cyc
	if _, err := Encode(cyc); err == nil {
		t.Error("cycle: no error")
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		in    string
		limit bool // expect ErrLimit rather than ErrSyntax
	}{
		{"", false},
		{"x", false},
		{"i", false},
		{"ie", false},
		{"i-e", false},
		{"i-0e", false},
		{"i03e", false},
		{"i-03e", false},
		{"i00e", false},
		{"i1", false},
		{"i1x", false},
		{"i+1e", false},
		{"i 1e", false},
		{"i9223372036854775808e", false},
		{"i-9223372036854775809e", false},
		{"i99999999999999999999999999999e", false},
		{"4:abc", false},
		{"04:abcd", false},
		{"00:", false},
		{"-1:a", false},
		{"4abcd", false},
		{"4", false},
		{"l", false},
		{"li1e", false},
		{"d", false},
		{"d1:a", false},
		{"d1:ai1e", false},
		{"di1ei1ee", false},      // non-string key
		{"dle1:ae", false},       // non-string key
		{"d1:b0:1:a0:e", false},  // unsorted keys
		{"d1:a0:1:a0:e", false},  // duplicate keys
		{"d2:ab0:1:a0:e", false}, // "a" < "ab": unsorted
		{"i1ei2e", false},        // trailing data
		{"lee", false},           // trailing data
		{"de\x00", false},        // trailing data
		{"e", false},
		{"99999999999999999999999:x", true}, // huge length, no allocation
		{"2000000:x", true},                 // longer than MaxStringLen
		{strings.Repeat("l", 100) + strings.Repeat("e", 100), true},
		{strings.Repeat("d1:a", 100) + "i0e" + strings.Repeat("e", 100), true},
	}
	for _, c := range cases {
		v, err := Decode([]byte(c.in))
		if err == nil {
			t.Errorf("Decode(%.40q) = %#v, want error", c.in, v)
			continue
		}
		want := ErrSyntax
		if c.limit {
			want = ErrLimit
		}
		if !errors.Is(err, want) {
			t.Errorf("Decode(%.40q) error %v, want %v", c.in, err, want)
		}
	}
}

func TestDecodeLimits(t *testing.T) {
	lim := Limits{MaxSize: 12, MaxDepth: 2, MaxStringLen: 3, MaxItems: 4}
	ok := []string{"ll0:ee", "3:abc", "li1ei2ei3ee", "d1:ai1ee"}
	for _, in := range ok {
		if _, err := DecodeLimits([]byte(in), lim); err != nil {
			t.Errorf("DecodeLimits(%q): %v", in, err)
		}
	}
	bad := []string{
		"lll0:eee",       // depth 3
		"4:abcd",         // string too long
		"li1ei2ei3ei4ee", // size 14 > 12
		"l0:0:0:0:e",     // 5 items in 10 bytes
		"d1:ai1e1:bi2ee", // size
	}
	for _, in := range bad {
		_, err := DecodeLimits([]byte(in), lim)
		if !errors.Is(err, ErrLimit) {
			t.Errorf("DecodeLimits(%q) = %v, want ErrLimit", in, err)
		}
	}
	// Very deep nesting with default limits is rejected without a stack blow-up.
	deep := bytes.Repeat([]byte("l"), 1<<20)
	if _, err := Decode(deep); !errors.Is(err, ErrLimit) {
		t.Errorf("deep nesting: %v", err)
	}
	// Oversized input is rejected up front.
	if _, err := Decode(make([]byte, DefaultLimits.MaxSize+1)); !errors.Is(err, ErrLimit) {
		t.Errorf("oversize: %v", err)
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Decode([]byte("i1ex"))
	var e *Error
	if !errors.As(err, &e) || e.Offset != 3 {
		t.Fatalf("got %v, want *Error at offset 3", err)
	}
	if !strings.Contains(err.Error(), "offset 3") {
		t.Errorf("message %q lacks offset", err)
	}
}
