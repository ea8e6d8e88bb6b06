package weft

import (
	"math"
	"reflect"

	c "weft.local/weft/internal/cweft"
)

// setValue completes the C future p with v, choosing the C type that C code
// can read: int64, double, bytes, none, or a Go value box (loop thread).
func setValue(p uintptr, v any) int {
	f := fp(p)
	if v == nil {
		return f.Set_none()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return f.Set_int64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt64 {
			return f.Set_int64(int64(u))
		}
	case reflect.Float32, reflect.Float64:
		return f.Set_double(rv.Float())
	case reflect.String:
		return f.Set_bytes([]byte(rv.String()))
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return f.Set_bytes(rv.Bytes())
		}
	case reflect.Struct:
		if rv.NumField() == 0 { // struct{}: no value
			return f.Set_none()
		}
	}
	box := c.NewBox(v)
	rc := c.Weft_future_set_ptr(f, box)
	if rc != 0 {
		c.FreeBox(box)
	}
	return rc
}

// decodeValue reads the result of the done C future f as a T (loop thread).
// int64, double and bytes convert to any T of a matching kind; a box gives
// back the Go value; a pointer set by C code is a uintptr.
func decodeValue[T any](f uintptr) (any, error) {
	var raw any
	switch fp(f).Result_type() {
	case int(c.VALUE_NONE):
		var zero T
		return zero, nil
	case int(c.VALUE_INT64):
		var v int64
		if rc := fp(f).Result_int64(&v); rc != 0 {
			return nil, errorOf(rc)
		}
		raw = v
	case int(c.VALUE_DOUBLE):
		var v float64
		if rc := fp(f).Result_double(&v); rc != 0 {
			return nil, errorOf(rc)
		}
		raw = v
	case int(c.VALUE_BYTES):
		b, rc := c.ResultBytes(f)
		if rc != 0 {
			return nil, errorOf(rc)
		}
		raw = b
	case int(c.VALUE_PTR):
		var p uintptr
		if rc := c.Weft_future_result_ptr(fp(f), &p); rc != 0 {
			return nil, errorOf(rc)
		}
		if v, ok := c.BoxValue(p); ok {
			raw = v
		} else {
			raw = p
		}
	}
	return convert[T](raw)
}

// convert turns a decoded C value into a T: as is if it is one, else by a
// conversion between kinds of the same family.
func convert[T any](raw any) (any, error) {
	if raw == nil {
		var zero T
		return zero, nil
	}
	if _, ok := raw.(T); ok {
		return raw, nil
	}
	var zero T
	to := reflect.TypeOf(&zero).Elem()
	rv := reflect.ValueOf(raw)
	ok := false
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		ok = rv.Kind() == reflect.Int64 || rv.Kind() == reflect.Uintptr
	case reflect.Float32, reflect.Float64:
		ok = rv.Kind() == reflect.Float64 || rv.Kind() == reflect.Int64
	case reflect.String:
		ok = rv.Kind() == reflect.Slice
	case reflect.Slice:
		ok = rv.Kind() == reflect.Slice && to.Elem().Kind() == reflect.Uint8
	case reflect.Struct:
		if to.NumField() == 0 {
			return zero, nil
		}
	}
	if !ok || !rv.Type().ConvertibleTo(to) {
		return nil, &Error{Code: int(c.ETYPE), Message: "cannot read a " + rv.Type().String() + " result as " + to.String()}
	}
	return rv.Convert(to).Interface(), nil
}
