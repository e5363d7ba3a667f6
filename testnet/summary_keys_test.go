package testnet

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Every key of every summary.json is snake_case: each exported field reachable from the
// summaries' types has an explicit json tag in snake_case (or "-").
func TestSummaryKeysSnakeCase(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	seen := map[reflect.Type]bool{}
	var walk func(tp reflect.Type, path string)
	walk = func(tp reflect.Type, path string) {
		for tp.Kind() == reflect.Pointer || tp.Kind() == reflect.Slice || tp.Kind() == reflect.Array || tp.Kind() == reflect.Map {
			tp = tp.Elem()
		}
		if tp.Kind() != reflect.Struct || seen[tp] || tp == reflect.TypeOf(time.Time{}) {
			return
		}
		seen[tp] = true
		for i := range tp.NumField() {
			f := tp.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				walk(f.Type, path)
				continue
			}
			if !snake.MatchString(name) {
				t.Errorf("%s.%s: json key %q is not snake_case", path, f.Name, name)
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	walk(reflect.TypeOf(RunSummary{}), "RunSummary")
	walk(reflect.TypeOf(StampedeResult{}), "StampedeResult")
	walk(reflect.TypeOf(LocalityResult{}), "LocalityResult")
}
