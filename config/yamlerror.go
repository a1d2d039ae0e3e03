package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// yamlPos matches the "[line:column] message" that go-yaml's errors
// start with.
var yamlPos = regexp.MustCompile(`^\[(\d+):(\d+)\] (.*)$`)

// yamlError turns a go-yaml error into "name:line:column: message",
// dropping the source excerpt it carries (which could show a secret). A
// value of the wrong type becomes "name:line: key.path: want …, got …".
func yamlError(name string, data []byte, err error) error {
	if msg, line, ok := typeMismatch(data, err); ok {
		return fmt.Errorf("%w: %s:%d: %s", ErrInvalid, name, line, msg)
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	if m := yamlPos.FindStringSubmatch(first); m != nil {
		return fmt.Errorf("%w: %s:%s:%s: %s", ErrInvalid, name, m[1], m[2], m[3])
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalid, name, first)
}

// typeMismatch describes a value of the wrong type for people: the key's
// path, the type wanted and what was found. ok is false for other errors.
func typeMismatch(data []byte, err error) (msg string, line int, ok bool) {
	var (
		te  *yaml.TypeError
		ne  *yaml.UnexpectedNodeTypeError
		oe  *yaml.OverflowError
		tok *token.Token
	)
	var want, got string
	switch {
	case errors.As(err, &te) && te.Token != nil:
		tok, want = te.Token, wantType(te.DstType)
		got = gotValue(tok, te.DstType)
	case errors.As(err, &ne) && ne.Token != nil:
		tok, want = ne.Token, wantNode(ne.Expected)
		got = nodeName(ne.Actual)
	case errors.As(err, &oe) && oe.Token != nil:
		tok = oe.Token
		want = "a smaller number (it must fit a " + oe.DstType.String() + ")"
		got = gotValue(tok, oe.DstType)
	default:
		return "", 0, false
	}
	key := keyAt(data, tok)
	if key == "" {
		return fmt.Sprintf("want %s, got %s", want, got), tok.Position.Line, true
	}
	return fmt.Sprintf("%s: want %s, got %s", key, want, got), tok.Position.Line, true
}

// keyAt returns the path ("jobs[0].exclude_caches") of the value the
// token starts, or "".
func keyAt(data []byte, tok *token.Token) (key string) {
	defer func() {
		if recover() != nil {
			key = ""
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return ""
	}
	v := &nodeAt{line: tok.Position.Line, column: tok.Position.Column}
	for _, doc := range f.Docs {
		ast.Walk(v, doc)
	}
	if v.found == nil {
		return ""
	}
	return strings.TrimPrefix(strings.TrimPrefix(v.found.GetPath(), "$"), ".")
}

// nodeAt finds the outermost node starting at a position.
type nodeAt struct {
	line, column int
	found        ast.Node
}

func (v *nodeAt) Visit(n ast.Node) ast.Visitor {
	if n == nil || v.found != nil {
		return nil
	}
	if _, ok := n.(*ast.MappingValueNode); !ok {
		if t := n.GetToken(); t != nil && t.Position.Line == v.line && t.Position.Column == v.column {
			v.found = n
			return nil
		}
	}
	return v
}

// wantType says what a Go field of type t takes, in YAML terms.
func wantType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number of 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a text value"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a block of settings (key: value lines)"
	}
	return t.String()
}

// wantNode says what a YAML node type is, as a wanted value.
func wantNode(t ast.NodeType) string {
	switch t {
	case ast.SequenceType:
		return "a list (one \"- item\" line per item, or [a, b])"
	case ast.MappingType:
		return "a block of settings (key: value lines)"
	}
	return "a " + t.YAMLName()
}

// nodeName says what a YAML node type is, as a value found.
func nodeName(t ast.NodeType) string {
	switch t {
	case ast.SequenceType:
		return "a list"
	case ast.MappingType:
		return "a block of settings"
	case ast.StringType, ast.LiteralType:
		return "a single text value"
	case ast.IntegerType, ast.FloatType:
		return "a single number"
	case ast.BoolType:
		return "true or false"
	case ast.NullType:
		return "nothing"
	}
	return "a " + t.YAMLName()
}

// maxQuoted bounds the value quoted in a type error.
const maxQuoted = 24

// gotValue describes the value a token starts. It quotes a short scalar
// only where the field wants a boolean or a number: such fields never hold
// secrets, while a text or list field might, and errors never repeat one.
func gotValue(tok *token.Token, dst reflect.Type) string {
	switch tok.Type {
	case token.SequenceStartType, token.SequenceEntryType:
		return "a list"
	case token.MappingStartType, token.MappingValueType:
		return "a block of settings"
	}
	for dst.Kind() == reflect.Pointer {
		dst = dst.Elem()
	}
	switch dst.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		if len(tok.Value) <= maxQuoted {
			return fmt.Sprintf("%q", tok.Value)
		}
	}
	return "a value of another type"
}
