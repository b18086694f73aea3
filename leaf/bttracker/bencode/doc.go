// Package bencode is a small, strict encoder and decoder for the bencoding
// used by BitTorrent (BEP 3).
//
// It is written for supertracker rather than imported: the usual Go packages
// (github.com/jackpal/bencode-go, github.com/zeebo/bencode) are not available
// through the module proxy used to build this project, and a tracker frontend
// needs only a tiny, hostile-input-proof subset. It is deliberately minimal:
// no reflection-based struct mapping, just four value types.
//
// # Value model
//
// Decode produces, and Encode accepts, these Go types:
//
//	integer    int64            (Encode also accepts every other Go integer type)
//	byte string string          (any bytes; Encode also accepts []byte)
//	list       []any            (Encode also accepts []string and []map[string]any)
//	dictionary map[string]any
//
// # Strictness
//
// Decode accepts only canonical bencoding, so that for every input it
// accepts, Encode(Decode(x)) == x byte for byte:
//
//   - integers: no leading zeros ("i03e"), no negative zero ("i-0e"), no empty
//     integer ("ie"), and the value must fit in an int64;
//   - string lengths: no leading zeros ("03:abc"), no sign;
//   - dictionaries: keys must be byte strings in strictly increasing raw byte
//     order. Unsorted keys and duplicate keys are both rejected (BEP 3 requires
//     sorted keys; a decoder that silently accepted duplicates would let two
//     parsers disagree about the same message);
//   - the input must hold exactly one value: trailing data is an error.
//
// # Limits
//
// Decoding is bounded by Limits: total input size, nesting depth, the length
// of any single string and the total number of values. The decoder never
// allocates more than the input length for a string, never recurses deeper
// than MaxDepth, and reports every problem as an error; it does not panic on
// any input.
package bencode
