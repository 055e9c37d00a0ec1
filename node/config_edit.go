package node

import (
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// configTree is c as config.toml's tree of sections and keys.
func configTree(c Config) (map[string]any, error) {
	b, err := toml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("node: encode config: %w", err)
	}
	var tree map[string]any
	if err := toml.Unmarshal(b, &tree); err != nil {
		return nil, fmt.Errorf("node: decode config: %w", err)
	}
	return tree, nil
}

// lookupKey finds a dotted key ("api.listen", or a section: "api") in
// tree: the table holding it and its last name.
func lookupKey(tree map[string]any, key string) (map[string]any, string, error) {
	parts := strings.Split(key, ".")
	t := tree
	typ := reflect.TypeFor[Config]()
	for i, p := range parts {
		v, ok := t[p]
		if !ok {
			where := "outside any section"
			if i > 0 {
				where = "in [" + strings.Join(parts[:i], ".") + "]"
			}
			msg := fmt.Sprintf("%s: unknown key %s %s", key, p, where)
			known := tomlKeys(typ)
			if s := closest(p, known); s != "" {
				return nil, "", fmt.Errorf("%w: %s (did you mean %s?)", ErrConfig, msg, s)
			}
			return nil, "", fmt.Errorf("%w: %s (the names there are: %s)", ErrConfig, msg, strings.Join(known, ", "))
		}
		if i == len(parts)-1 {
			return t, p, nil
		}
		sub, ok := v.(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("%w: %s: %s is not a section", ErrConfig, key, strings.Join(parts[:i+1], "."))
		}
		f, _ := tomlField(typ, p)
		t, typ = sub, f.Type
	}
	return nil, "", fmt.Errorf("%w: empty key", ErrConfig)
}

// ConfigValue returns the value of config.toml's key in c: a string as it
// is (127.0.0.1:5151 for api.listen), another value as TOML (true, 64,
// ["a", "b"]), a section as its keys in TOML.
func ConfigValue(c Config, key string) (string, error) {
	tree, err := configTree(c)
	if err != nil {
		return "", err
	}
	t, name, err := lookupKey(tree, key)
	if err != nil {
		return "", err
	}
	if sec, ok := t[name].(map[string]any); ok {
		b, err := toml.Marshal(sec)
		return strings.TrimSpace(string(b)), err
	}
	if s, ok := t[name].(string); ok {
		return s, nil
	}
	b, err := toml.Marshal(map[string]any{"v": t[name]})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.TrimPrefix(string(b), "v = ")), nil
}

// SetConfigValue returns c with key set to value, validated as at start-up
// (the same messages). value is TOML (30, true, "a", ["x", "y"]); a bare
// word where the key takes a string (127.0.0.1:5152, 30s) is that string.
func SetConfigValue(c Config, key, value string) (Config, error) {
	tree, err := configTree(c)
	if err != nil {
		return Config{}, err
	}
	t, name, err := lookupKey(tree, key)
	if err != nil {
		return Config{}, err
	}
	if _, ok := t[name].(map[string]any); ok {
		return Config{}, fmt.Errorf("%w: %s is a section: set one of its keys (%s)", ErrConfig, key, strings.Join(slices.Sorted(maps.Keys(t[name].(map[string]any))), ", "))
	}
	var parsed map[string]any
	_, wantString := t[name].(string)
	if err := toml.Unmarshal([]byte("v = "+value), &parsed); err != nil || (wantString && !isString(parsed["v"])) {
		parsed = map[string]any{"v": value}
	}
	t[name] = parsed["v"]
	b, err := toml.Marshal(tree)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %s: %v", ErrConfig, key, err)
	}
	return ParseConfig(b)
}

func isString(v any) bool { _, ok := v.(string); return ok }

// SetConfig sets key to value in the directory's config.toml (see
// SetConfigValue) and writes the file again, with its comments, atomically;
// the file is left as it was if the result is not a valid configuration. A
// running node reads it at its next start.
func (d DataDir) SetConfig(key, value string) (Config, error) {
	c, err := d.LoadConfig()
	if err != nil {
		return Config{}, err
	}
	c, err = SetConfigValue(c, key, value)
	if err != nil {
		return Config{}, err
	}
	body, err := MarshalConfig(c)
	if err != nil {
		return Config{}, err
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(d.Config()); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := writeFileSync(d.Config(), body, mode); err != nil {
		return Config{}, err
	}
	return c, nil
}
