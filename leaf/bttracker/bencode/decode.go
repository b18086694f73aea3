package bencode

import (
	"errors"
	"fmt"
	"math"
)

// Limits bound the work Decode does on one input. A zero field means "use the
// value from DefaultLimits".
type Limits struct {
	MaxSize      int // maximum input length in bytes
	MaxDepth     int // maximum nesting of lists and dictionaries
	MaxStringLen int // maximum length of one byte string
	MaxItems     int // maximum number of values (integers, strings, lists, dicts)
}

// DefaultLimits are generous for tracker messages and small .torrent files.
var DefaultLimits = Limits{
	MaxSize:      4 << 20,
	MaxDepth:     32,
	MaxStringLen: 1 << 20,
	MaxItems:     1 << 16,
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultLimits.MaxSize
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxStringLen <= 0 {
		l.MaxStringLen = DefaultLimits.MaxStringLen
	}
	if l.MaxItems <= 0 {
		l.MaxItems = DefaultLimits.MaxItems
	}
	return l
}

// ErrLimit is wrapped by every error caused by exceeding a Limits field.
var ErrLimit = errors.New("bencode: limit exceeded")

// ErrSyntax is wrapped by every error caused by malformed input.
var ErrSyntax = errors.New("bencode: syntax error")

// Error describes where decoding failed. It wraps ErrLimit or ErrSyntax.
type Error struct {
	Offset int    // byte offset in the input
	Msg    string // what was wrong
	Err    error  // ErrLimit or ErrSyntax
}

func (e *Error) Error() string {
	return fmt.Sprintf("%v at offset %d: %s", e.Err, e.Offset, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Decode decodes exactly one canonical bencoded value using DefaultLimits.
func Decode(data []byte) (any, error) {
	return DecodeLimits(data, DefaultLimits)
}

// DecodeLimits decodes exactly one canonical bencoded value from data, bounded
// by lim. See the package documentation for the value model and strictness.
func DecodeLimits(data []byte, lim Limits) (any, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxSize {
		return nil, &Error{Offset: 0, Msg: fmt.Sprintf("input is %d bytes, limit %d", len(data), lim.MaxSize), Err: ErrLimit}
	}
	d := decoder{data: data, lim: lim}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(d.data) {
		return nil, d.syntax("trailing data after value")
	}
	return v, nil
}

type decoder struct {
	data  []byte
	pos   int
	items int
	lim   Limits
}

func (d *decoder) syntax(msg string) error {
	return &Error{Offset: d.pos, Msg: msg, Err: ErrSyntax}
}

func (d *decoder) limit(msg string) error {
	return &Error{Offset: d.pos, Msg: msg, Err: ErrLimit}
}

func (d *decoder) value(depth int) (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.syntax("unexpected end of input")
	}
	if err := d.count(); err != nil {
		return nil, err
	}
	switch c := d.data[d.pos]; {
	case c == 'i':
		return d.integer()
	case c >= '0' && c <= '9':
		return d.str()
	case c == 'l':
		return d.list(depth)
	case c == 'd':
		return d.dict(depth)
	default:
		return nil, d.syntax(fmt.Sprintf("unexpected byte %q", c))
	}
}

// count counts one more value against MaxItems.
func (d *decoder) count() error {
	d.items++
	if d.items > d.lim.MaxItems {
		return d.limit("too many values")
	}
	return nil
}

// elements walks the list or dictionary (what) opening at d.pos at depth,
// calling elem at each element, up to and past its closing 'e'.
func (d *decoder) elements(depth int, what string, elem func() error) error {
	if depth >= d.lim.MaxDepth {
		return d.limit("nesting too deep")
	}
	d.pos++
	for {
		if d.pos >= len(d.data) {
			return d.syntax("unterminated " + what)
		}
		if d.data[d.pos] == 'e' {
			d.pos++
			return nil
		}
		if err := elem(); err != nil {
			return err
		}
	}
}

// list parses "l<values>e" at d.pos.
func (d *decoder) list(depth int) (any, error) {
	list := []any{}
	err := d.elements(depth, "list", func() error {
		v, err := d.value(depth + 1)
		list = append(list, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// dict parses "d<key><value>...e" at d.pos: byte-string keys in strictly
// increasing order.
func (d *decoder) dict(depth int) (any, error) {
	dict := map[string]any{}
	havePrev := false
	prev := ""
	err := d.elements(depth, "dictionary", func() error {
		if c := d.data[d.pos]; c < '0' || c > '9' {
			return d.syntax("dictionary key is not a byte string")
		}
		keyPos := d.pos
		if err := d.count(); err != nil {
			return err
		}
		k, err := d.str()
		if err != nil {
			return err
		}
		key := k.(string)
		if havePrev && key <= prev {
			d.pos = keyPos
			if key == prev {
				return d.syntax(fmt.Sprintf("duplicate dictionary key %q", key))
			}
			return d.syntax(fmt.Sprintf("dictionary key %q out of order", key))
		}
		havePrev, prev = true, key
		v, err := d.value(depth + 1)
		dict[key] = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return dict, nil
}

// integer parses "i<digits>e" at d.pos.
func (d *decoder) integer() (any, error) {
	d.pos++ // 'i'
	neg := false
	if d.pos < len(d.data) && d.data[d.pos] == '-' {
		neg = true
		d.pos++
	}
	start := d.pos
	// Accumulate as a negative number so that math.MinInt64 is representable.
	var n int64
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		digit := int64(d.data[d.pos] - '0')
		if n < (math.MinInt64+digit)/10 {
			return nil, d.syntax("integer overflows int64")
		}
		n = n*10 - digit
		d.pos++
	}
	ndigits := d.pos - start
	switch {
	case ndigits == 0:
		return nil, d.syntax("integer has no digits")
	case d.pos >= len(d.data):
		return nil, d.syntax("unterminated integer")
	case d.data[d.pos] != 'e':
		return nil, d.syntax(fmt.Sprintf("unexpected byte %q in integer", d.data[d.pos]))
	case ndigits > 1 && d.data[start] == '0':
		return nil, d.syntax("integer has leading zero")
	case neg && n == 0:
		return nil, d.syntax("negative zero")
	}
	d.pos++ // 'e'
	if neg {
		return n, nil
	}
	if n == math.MinInt64 {
		return nil, d.syntax("integer overflows int64")
	}
	return -n, nil
}

// str parses "<len>:<bytes>" at d.pos; the caller has checked the first byte
// is a digit.
func (d *decoder) str() (any, error) {
	start := d.pos
	n := 0
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		n = n*10 + int(d.data[d.pos]-'0')
		if n > d.lim.MaxStringLen {
			return nil, d.limit(fmt.Sprintf("string longer than %d bytes", d.lim.MaxStringLen))
		}
		d.pos++
	}
	switch {
	case d.pos >= len(d.data):
		return nil, d.syntax("unterminated string length")
	case d.data[d.pos] != ':':
		return nil, d.syntax(fmt.Sprintf("unexpected byte %q in string length", d.data[d.pos]))
	case d.pos-start > 1 && d.data[start] == '0':
		return nil, d.syntax("string length has leading zero")
	}
	d.pos++ // ':'
	if n > len(d.data)-d.pos {
		return nil, d.syntax(fmt.Sprintf("string of length %d runs past end of input", n))
	}
	s := string(d.data[d.pos : d.pos+n])
	d.pos += n
	return s, nil
}
