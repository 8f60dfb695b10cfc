package onelogin

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/revocast/revocast/publisher"
)

// The five documented bodies, byte for byte, and the undocumented ones.
const (
	body200           = `{"status":{"error":false,"code":200,"type":"success","message":"Success"}}`
	body400CT         = `{"status":{"error":true,"code":400,"type":"bad request","message":"Content Type is not specified or specified incorrectly. Content-Type header must be set to application/json"}}`
	body400Token      = `{"status":{"error":true,"code":400,"type":"bad request","message":"Access Token Missing"}}`
	body400Auth       = `{"status":{"error":true,"code":400,"type":"bad request","message":"The authorization information is missing"}}`
	body401           = `{"status":{"error":true,"code":401,"type":"Unauthorized","message":"Authentication Failure"}}`
	body404           = `{"status":{"error":true,"code":404,"type":"not found","message":"No Route Exists"}}`
	body400TooLong    = `{"status":{"error":true,"code":400,"type":"bad request","message":"Access Token too long"}}`
	body503           = `{"status":{"error":true,"code":503,"type":"service unavailable","message":"The revocation could not be stored; nothing was revoked; retry"}}`
	jsonCT            = "application/json"
	sampleBody        = `{"access_token":"` + sampleToken + `"}`
	sampleBodyPretty  = "{\n   \"access_token\": \"" + sampleToken + "\"\n}"
	oneLoginSampleCT  = "application/json; charset=utf-8"
	wrongSecretHeader = "client_id:" + clientID + ", client_secret:wrong"
)

func body413(n int) string {
	return fmt.Sprintf(`{"status":{"error":true,"code":413,"type":"payload too large","message":"Request body is larger than %d bytes"}}`, n)
}

func TestAnswersAreExact(t *testing.T) {
	cases := []struct {
		name   string
		c      call
		status int
		body   string
	}{
		// 1. method
		{"GET without credentials", call{method: http.MethodGet, auth: "-"}, 404, body404},
		{"GET with credentials and a body", call{method: http.MethodGet, contentType: jsonCT, body: sampleBody}, 404, body404},
		{"PUT", call{method: http.MethodPut, contentType: jsonCT, body: sampleBody}, 404, body404},
		{"DELETE", call{method: http.MethodDelete, contentType: jsonCT, body: sampleBody}, 404, body404},
		{"PATCH", call{method: http.MethodPatch, contentType: jsonCT, body: sampleBody}, 404, body404},
		{"OPTIONS", call{method: http.MethodOptions, auth: "-"}, 404, body404},
		{"HEAD", call{method: http.MethodHead, auth: "-"}, 404, body404},
		{"lowercase post", call{method: "post", contentType: jsonCT, body: sampleBody}, 404, body404},
		// 2. Authorization present and in a known form
		{"no Authorization", call{auth: "-", contentType: jsonCT, body: sampleBody}, 400, body400Auth},
		{"no Authorization, no content type, no body", call{auth: "-"}, 400, body400Auth},
		{"Bearer", call{auth: "Bearer " + sampleToken, contentType: jsonCT, body: sampleBody}, 400, body400Auth},
		{"client_id only", call{auth: "client_id:" + clientID, contentType: jsonCT, body: sampleBody}, 400, body400Auth},
		{"empty client_secret", call{auth: "client_id:" + clientID + ", client_secret:", contentType: jsonCT, body: sampleBody}, 400, body400Auth},
		{"semicolon separator", call{auth: "client_id:" + clientID + "; client_secret:" + clientSecret, contentType: jsonCT, body: sampleBody}, 400, body400Auth},
		{"Basic not base64", call{auth: "Basic !!!", contentType: jsonCT, body: sampleBody}, 400, body400Auth},
		{"Basic without a colon", call{auth: "Basic " + base64.StdEncoding.EncodeToString([]byte(clientID+clientSecret)), contentType: jsonCT, body: sampleBody}, 400, body400Auth},
		// 3. authentication, before the content type is looked at
		{"wrong secret", call{auth: wrongSecretHeader, contentType: "text/plain", body: "x"}, 401, body401},
		{"unknown client", call{auth: "client_id:ghost, client_secret:" + clientSecret, contentType: jsonCT, body: sampleBody}, 401, body401},
		{"Basic, wrong secret", call{auth: basic(clientID, "wrong"), contentType: jsonCT, body: sampleBody}, 401, body401},
		{"Basic, empty secret", call{auth: basic(clientID, ""), contentType: jsonCT, body: sampleBody}, 401, body401},
		// 4. content type, before the body is looked at
		{"no content type", call{body: sampleBody}, 400, body400CT},
		{"no content type, no body", call{}, 400, body400CT},
		{"text/plain", call{contentType: "text/plain", body: sampleBody}, 400, body400CT},
		{"form", call{contentType: "application/x-www-form-urlencoded", body: "access_token=" + sampleToken}, 400, body400CT},
		{"json suffix type", call{contentType: "application/vnd.api+json", body: sampleBody}, 400, body400CT},
		{"unparsable content type", call{contentType: "application/json; charset", body: sampleBody}, 400, body400CT},
		{"content type of a wrong body", call{contentType: "text/html", body: "{}"}, 400, body400CT},
		// 5. body
		{"empty body", call{contentType: jsonCT}, 400, body400Token},
		{"empty object", call{contentType: jsonCT, body: `{}`}, 400, body400Token},
		{"empty token", call{contentType: jsonCT, body: `{"access_token":""}`}, 400, body400Token},
		{"null token", call{contentType: jsonCT, body: `{"access_token":null}`}, 400, body400Token},
		{"number token", call{contentType: jsonCT, body: `{"access_token":12}`}, 400, body400Token},
		{"array token", call{contentType: jsonCT, body: `{"access_token":["a"]}`}, 400, body400Token},
		{"object token", call{contentType: jsonCT, body: `{"access_token":{"a":"b"}}`}, 400, body400Token},
		{"other field only", call{contentType: jsonCT, body: `{"refresh_token":"r"}`}, 400, body400Token},
		{"field name in another case", call{contentType: jsonCT, body: `{"Access_Token":"a"}`}, 400, body400Token},
		{"array body", call{contentType: jsonCT, body: `["` + sampleToken + `"]`}, 400, body400Token},
		{"string body", call{contentType: jsonCT, body: `"` + sampleToken + `"`}, 400, body400Token},
		{"null body", call{contentType: jsonCT, body: `null`}, 400, body400Token},
		{"truncated", call{contentType: jsonCT, body: `{"access_token":"a"`}, 400, body400Token},
		{"trailing garbage", call{contentType: jsonCT, body: sampleBody + ` x`}, 400, body400Token},
		{"form body", call{contentType: jsonCT, body: "access_token=" + sampleToken}, 400, body400Token},
		{"token too long", call{contentType: jsonCT, body: `{"access_token":"` + strings.Repeat("a", publisher.MaxTokenLen+1) + `"}`}, 400, body400TooLong},
		{"body too large", call{contentType: jsonCT, body: `{"access_token":"` + strings.Repeat("a", publisher.DefaultMaxBody) + `"}`}, 413, body413(publisher.DefaultMaxBody)},
		// 6 and 7. success
		{"sample body", call{contentType: jsonCT, body: sampleBodyPretty}, 200, body200},
		{"charset parameter", call{contentType: oneLoginSampleCT, body: sampleBody}, 200, body200},
		{"upper-case media type", call{contentType: "Application/JSON", body: sampleBody}, 200, body200},
		{"extra fields ignored", call{contentType: jsonCT, body: `{"token_type_hint":"access_token","access_token":"` + sampleToken + `","x":[1,{}]}`}, 200, body200},
		{"token of the maximum length", call{contentType: jsonCT, body: `{"access_token":"` + strings.Repeat("a", publisher.MaxTokenLen) + `"}`}, 200, body200},
		{"Basic, as the SDKs send", call{auth: basic(clientID, clientSecret), contentType: jsonCT, body: sampleBody}, 200, body200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			core := &fakeCore{}
			w := do(t, newHandler(core), tc.c)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
			if got := w.Body.String(); got != tc.body {
				t.Errorf("body =\n%s\nwant\n%s", got, tc.body)
			}
			checkHeaders(t, w, "")
			if n := len(core.requests()); (tc.status == 200) != (n == 1) {
				t.Errorf("the core got %d requests", n)
			}
		})
	}
}

func TestMaxBodyOption(t *testing.T) {
	h := New(&fakeCore{}, Options{Auth: testAuth, MaxBody: 100})
	w := do(t, h, call{contentType: jsonCT, body: `{"access_token":"` + strings.Repeat("a", 100) + `"}`})
	if w.Code != 413 || w.Body.String() != body413(100) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w := do(t, h, call{contentType: jsonCT, body: sampleBody}); w.Code != 200 {
		t.Fatalf("a body under the limit: %d %s", w.Code, w.Body)
	}
}

func TestWithoutAuthenticatorEverythingIsRefused(t *testing.T) {
	core := &fakeCore{}
	w := do(t, New(core, Options{}), call{contentType: jsonCT, body: sampleBody})
	if w.Code != 401 || w.Body.String() != body401 || len(core.requests()) != 0 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
