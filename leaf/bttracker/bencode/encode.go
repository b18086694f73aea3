package bencode

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
)

// maxEncodeDepth bounds nesting on encode, which also stops cycles built
// through []any values that contain themselves.
const maxEncodeDepth = 64

// Encode returns the bencoding of v. See the package documentation for the
// accepted types; any other type is an error. Dictionary keys are written in
// sorted raw byte order, so the output is canonical.
func Encode(v any) ([]byte, error) {
	return AppendEncode(nil, v)
}

// AppendEncode appends the bencoding of v to dst.
func AppendEncode(dst []byte, v any) ([]byte, error) {
	return appendValue(dst, v, 0)
}

func appendString(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

func appendInt(dst []byte, n int64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, 'e')
}

func appendUint(dst []byte, n uint64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendUint(dst, n, 10)
	return append(dst, 'e')
}

// appendList encodes es as a bencode list of values one level deeper.
func appendList[E any](dst []byte, es []E, depth int) ([]byte, error) {
	dst = append(dst, 'l')
	for _, e := range es {
		var err error
		if dst, err = appendValue(dst, e, depth+1); err != nil {
			return nil, err
		}
	}
	return append(dst, 'e'), nil
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxEncodeDepth {
		return nil, fmt.Errorf("bencode: encode: nesting deeper than %d", maxEncodeDepth)
	}
	switch v := v.(type) {
	case string:
		return appendString(dst, v), nil
	case []byte:
		return appendString(dst, string(v)), nil
	case int, int8, int16, int32, int64:
		return appendInt(dst, reflect.ValueOf(v).Int()), nil
	case uint, uint8, uint16, uint32, uint64:
		return appendUint(dst, reflect.ValueOf(v).Uint()), nil
	case []any:
		return appendList(dst, v, depth)
	case []string:
		dst = append(dst, 'l')
		for _, e := range v {
			dst = appendString(dst, e)
		}
		return append(dst, 'e'), nil
	case []map[string]any:
		return appendList(dst, v, depth)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // Go string order is raw byte order, as BEP 3 wants
		dst = append(dst, 'd')
		for _, k := range keys {
			dst = appendString(dst, k)
			var err error
			if dst, err = appendValue(dst, v[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, 'e'), nil
	case nil:
		return nil, fmt.Errorf("bencode: encode: nil value")
	default:
		return nil, fmt.Errorf("bencode: encode: unsupported type %T", v)
	}
}
