package publisher

import "testing"

func TestFastAck(t *testing.T) {
	for in, want := range map[string]uint64{
		`{"stream":"KV_X","seq":42}`:                       42,
		`{"stream":"REVOCAST","seq":18446744073709551615}`: 18446744073709551615,
	} {
		if a, ok := fastAck([]byte(in)); !ok || a.Seq != want || a.Err != nil {
			t.Errorf("fastAck(%s) = %+v %v", in, a, ok)
		}
	}
	for _, in := range []string{`{"stream":"X","seq":1,"duplicate":true}`, `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"},"stream":"X","seq":0}`,
		`{"stream":"X"}`, `garbage`, `{"stream":"X","seq":}`} {
		if _, ok := fastAck([]byte(in)); ok {
			t.Errorf("fastAck(%s) took the fast path", in)
		}
	}
}
