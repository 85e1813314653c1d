package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const viewerQuery = `{ viewer { id nickname email bio friendship online createdAt } }`

type viewerData struct {
	Viewer *struct {
		ID, Nickname, Friendship, CreatedAt string
		Email, Bio                          *string
		Online                              bool
	}
}

func TestSignUpAndViewer(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		var out struct {
			SignUp struct {
				AccessToken          string
				AccessTokenExpiresAt time.Time
				RefreshToken         string
				User                 struct {
					ID, Nickname, Friendship string
					Email, Bio               *string
				}
			}
		}
		e.anon().do(t, `mutation($in: SignUpInput!) { signUp(input: $in) {
			accessToken accessTokenExpiresAt refreshToken user { id nickname email bio friendship } } }`,
			map[string]any{"in": map[string]any{
				"email": "  Kim.CheolSu@Example.COM ", "password": "비밀번호는길어요", "nickname": " 김철수 😀 ", "bio": "안녕하세요 👋 반갑습니다",
			}}).Decode(t, &out)
		p := out.SignUp
		if p.AccessToken == "" || p.RefreshToken == "" || p.User.ID == "" {
			t.Fatalf("incomplete payload: %+v", p)
		}
		if d := time.Until(p.AccessTokenExpiresAt); d < 10*time.Minute || d > 16*time.Minute {
			t.Errorf("access token expires in %v, want about 15 minutes", d)
		}
		if p.User.Nickname != "김철수 😀" || p.User.Bio == nil || *p.User.Bio != "안녕하세요 👋 반갑습니다" {
			t.Errorf("unicode did not round-trip: nickname %q bio %v", p.User.Nickname, p.User.Bio)
		}
		if p.User.Email == nil || *p.User.Email != "kim.cheolsu@example.com" {
			t.Errorf("own email in the payload = %v, want the normalised address", p.User.Email)
		}
		if p.User.Friendship != "SELF" {
			t.Errorf("friendship to oneself = %q, want SELF", p.User.Friendship)
		}

		var v viewerData
		e.as(p.AccessToken).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer == nil || v.Viewer.ID != p.User.ID || v.Viewer.Nickname != "김철수 😀" || *v.Viewer.Email != "kim.cheolsu@example.com" {
			t.Fatalf("viewer = %+v", v.Viewer)
		}

		// Without a token the viewer is null, not an error.
		r := e.anon().do(t, viewerQuery, nil)
		r.Decode(t, &v)
		if v.Viewer != nil {
			t.Fatalf("anonymous viewer = %+v, want null", v.Viewer)
		}
	})
}

func TestSignUpRefusesBadInput(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		taken := e.signUp(t, "taken")
		long := strings.Repeat("가", 31)
		cases := []struct {
			name                      string
			email, password, nickname string
			code, field               string
		}{
			{"no at sign", "not-an-email", "long enough", "nick", "BAD_USER_INPUT", "email"},
			{"display name", "Bob <bob@example.com>", "long enough", "nick", "BAD_USER_INPUT", "email"},
			{"no domain dot", "bob@localhost", "long enough", "nick", "BAD_USER_INPUT", "email"},
			{"empty email", "  ", "long enough", "nick", "BAD_USER_INPUT", "email"},
			{"space inside", "bo b@example.com", "long enough", "nick", "BAD_USER_INPUT", "email"},
			{"short password", "short@example.com", "1234567", "nick", "BAD_USER_INPUT", "password"},
			{"short korean password", "short2@example.com", "가나다라마바사", "nick", "BAD_USER_INPUT", "password"},
			{"one-letter nickname", "n1@example.com", "long enough", "김", "BAD_USER_INPUT", "nickname"},
			{"31-letter nickname", "n2@example.com", "long enough", long, "BAD_USER_INPUT", "nickname"},
			{"blank nickname", "n3@example.com", "long enough", "     ", "BAD_USER_INPUT", "nickname"},
			{"duplicate email", taken.Email, "long enough", "nick", "CONFLICT", ""},
			{"duplicate email in other case", strings.ToUpper(taken.Email), "long enough", "nick", "CONFLICT", ""},
		}
		for _, c := range cases {
			r := e.anon().do(t, `mutation($in: SignUpInput!) { signUp(input: $in) { accessToken } }`,
				map[string]any{"in": map[string]any{"email": c.email, "password": c.password, "nickname": c.nickname}})
			if r.Code() != c.code {
				t.Errorf("%s: code %q, want %q (%s)", c.name, r.Code(), c.code, r.Raw)
				continue
			}
			if f, _ := r.Errors[0].Extensions["field"].(string); f != c.field {
				t.Errorf("%s: field %q, want %q", c.name, f, c.field)
			}
			if string(r.Data) != "null" {
				t.Errorf("%s: data = %s, want null", c.name, r.Data)
			}
		}
		// A 30-letter Korean nickname is fine.
		r := e.anon().do(t, `mutation($in: SignUpInput!) { signUp(input: $in) { user { nickname } } }`,
			map[string]any{"in": map[string]any{"email": "thirty@example.com", "password": "long enough", "nickname": long[:len(long)-len("가")]}})
		if r.Code() != "" {
			t.Fatalf("30-letter nickname refused: %s", r.Raw)
		}
	})
}

const signInMutation = `mutation($e: String!, $p: String!) { signIn(input: {email: $e, password: $p}) { accessToken refreshToken user { id email } } }`

type signInData struct {
	SignIn struct {
		AccessToken, RefreshToken string
		User                      struct {
			ID    string
			Email *string
		}
	}
}

func TestSignIn(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "signer")
		var out signInData
		e.anon().do(t, signInMutation, map[string]any{"e": strings.ToUpper(a.Email), "p": a.Password}).Decode(t, &out)
		if out.SignIn.User.ID != a.ID || out.SignIn.User.Email == nil || *out.SignIn.User.Email != a.Email {
			t.Fatalf("signIn user = %+v, want %s with email %s", out.SignIn.User, a.ID, a.Email)
		}
		var v viewerData
		e.as(out.SignIn.AccessToken).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer == nil || v.Viewer.ID != a.ID {
			t.Fatalf("viewer after signIn = %+v", v.Viewer)
		}

		wrong := e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password + "x"})
		unknown := e.anon().do(t, signInMutation, map[string]any{"e": "nobody@example.com", "p": a.Password})
		for name, r := range map[string]gqlResponse{"wrong password": wrong, "unknown email": unknown} {
			if r.Code() != "UNAUTHENTICATED" {
				t.Errorf("%s: code %q, want UNAUTHENTICATED (%s)", name, r.Code(), r.Raw)
			}
		}
		if wrong.Errors[0].Message != unknown.Errors[0].Message {
			t.Errorf("a wrong password (%q) and an unknown email (%q) must read the same", wrong.Errors[0].Message, unknown.Errors[0].Message)
		}
		if r := e.anon().do(t, signInMutation, map[string]any{"e": "bad", "p": "whatever1"}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("malformed email: code %q, want BAD_USER_INPUT", r.Code())
		}
	})
}

func TestSignInIsRateLimited(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "limited")
		// Per account: ten tries in a row, then RATE_LIMITED, even with the right password.
		for i := 0; i < 10; i++ {
			if r := e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": "wrong password"}); r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("attempt %d: code %q, want UNAUTHENTICATED", i+1, r.Code())
			}
		}
		if r := e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password}); r.Code() != "RATE_LIMITED" {
			t.Fatalf("11th attempt: code %q, want RATE_LIMITED (%s)", r.Code(), r.Raw)
		}
		// Per client address: spraying many accounts from one address is cut off too.
		limited := false
		for i := 0; i < 40 && !limited; i++ {
			r := e.anon().do(t, signInMutation, map[string]any{"e": fmt.Sprintf("spray%d@example.com", i), "p": "password1"})
			limited = r.Code() == "RATE_LIMITED"
		}
		if !limited {
			t.Fatal("40 sign-ins to different accounts from one address were never rate limited")
		}
	})
}

// forge signs claims with key and method, as an attacker (or a clock) would.
func forge(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBadAccessTokens(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "victim")
		claims, err := jwt.NewParser().ParseWithClaims(a.AccessToken, jwt.MapClaims{}, func(*jwt.Token) (any, error) { return testSecret, nil })
		if err != nil {
			t.Fatal(err)
		}
		good := claims.Claims.(jwt.MapClaims)
		with := func(k string, v any) jwt.MapClaims {
			c := jwt.MapClaims{}
			for kk, vv := range good {
				c[kk] = vv
			}
			c[k] = v
			return c
		}
		parts := strings.Split(a.AccessToken, ".")
		tokens := map[string]string{
			"other secret":     forge(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-!!"), good),
			"alg none":         forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good),
			"HS512":            forge(t, jwt.SigningMethodHS512, testSecret, good),
			"expired":          forge(t, jwt.SigningMethodHS256, testSecret, with("exp", time.Now().Add(-time.Minute).Unix())),
			"no expiry":        forge(t, jwt.SigningMethodHS256, testSecret, with("exp", nil)),
			"other issuer":     forge(t, jwt.SigningMethodHS256, testSecret, with("iss", "https://evil.example")),
			"unknown session":  forge(t, jwt.SigningMethodHS256, testSecret, with("sid", 999999)),
			"other subject":    forge(t, jwt.SigningMethodHS256, testSecret, with("sub", "12345")),
			"tampered payload": parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2],
			"garbage":          "not.a.jwt",
		}
		for name, tok := range tokens {
			var v viewerData
			e.as(tok).do(t, viewerQuery, nil).Decode(t, &v)
			if v.Viewer != nil {
				t.Errorf("%s: viewer = %+v, want null", name, v.Viewer)
			}
			r := e.as(tok).do(t, `{ searchUsers(query: "vic") { totalCount } }`, nil)
			if r.Code() != "UNAUTHENTICATED" {
				t.Errorf("%s: searchUsers code %q, want UNAUTHENTICATED", name, r.Code())
			}
		}
		r := e.as(tokens["expired"]).do(t, `{ searchUsers(query: "vic") { totalCount } }`, nil)
		mustContain(t, r.Errors[0].Message, "expired")
		// The real token still works.
		var v viewerData
		e.client(a).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer == nil {
			t.Fatal("the genuine token stopped working")
		}
	})
}

const refreshMutation = `mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken user { id } } }`

type refreshData struct {
	RefreshSession struct {
		AccessToken, RefreshToken string
		User                      struct{ ID string }
	}
}

func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "refresher")
		var r1 refreshData
		e.anon().do(t, refreshMutation, map[string]any{"t": a.RefreshToken}).Decode(t, &r1)
		if r1.RefreshSession.RefreshToken == "" || r1.RefreshSession.RefreshToken == a.RefreshToken || r1.RefreshSession.User.ID != a.ID {
			t.Fatalf("refresh did not rotate: %+v", r1)
		}
		var v viewerData
		e.as(r1.RefreshSession.AccessToken).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer == nil || v.Viewer.ID != a.ID {
			t.Fatalf("viewer with refreshed token = %+v", v.Viewer)
		}
		var r2 refreshData
		e.anon().do(t, refreshMutation, map[string]any{"t": r1.RefreshSession.RefreshToken}).Decode(t, &r2)

		// The first token is spent: presenting it again is theft, and ends the family.
		reuse := e.anon().do(t, refreshMutation, map[string]any{"t": a.RefreshToken})
		if reuse.Code() != "UNAUTHENTICATED" {
			t.Fatalf("reused token: code %q, want UNAUTHENTICATED (%s)", reuse.Code(), reuse.Raw)
		}
		if r := e.anon().do(t, refreshMutation, map[string]any{"t": r2.RefreshSession.RefreshToken}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("newest token of a revoked family: code %q, want UNAUTHENTICATED", r.Code())
		}
		e.as(r2.RefreshSession.AccessToken).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer != nil {
			t.Fatal("an access token of the revoked family still works")
		}
		// Other sessions of the same user are not touched.
		var s signInData
		e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password}).Decode(t, &s)
		e.as(s.SignIn.AccessToken).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer == nil {
			t.Fatal("a new sign-in does not work after a revoked family")
		}
		if r := e.anon().do(t, refreshMutation, map[string]any{"t": "made-up-token"}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("unknown refresh token: code %q", r.Code())
		}
	})
}

func TestSignOut(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "leaver")
		var v viewerData
		e.client(a).do(t, viewerQuery, nil).Decode(t, &v) // its session is now remembered open
		if v.Viewer == nil {
			t.Fatal("the access token does not work before signOut")
		}
		var out struct{ SignOut bool }
		e.anon().do(t, `mutation($t: String!) { signOut(refreshToken: $t) }`, map[string]any{"t": a.RefreshToken}).Decode(t, &out)
		if !out.SignOut {
			t.Fatal("signOut = false for an open session")
		}
		e.client(a).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer != nil {
			t.Fatal("the access token works after signOut")
		}
		if r := e.anon().do(t, refreshMutation, map[string]any{"t": a.RefreshToken}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("refresh after signOut: code %q", r.Code())
		}
		e.anon().do(t, `mutation($t: String!) { signOut(refreshToken: $t) }`, map[string]any{"t": a.RefreshToken}).Decode(t, &out)
		if out.SignOut {
			t.Fatal("signing out twice reports an open session the second time")
		}
	})
}

// An access token whose session ended stops working at once, also just
// after it was used (the server remembers open sessions for a second): a
// password change ends the other sessions, deleting the account all.
func TestEndedSessionsAreRefusedAtOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "changer")
		var second signInData
		e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password}).Decode(t, &second)
		works := func(token string) bool {
			var v viewerData
			e.as(token).do(t, viewerQuery, nil).Decode(t, &v)
			return v.Viewer != nil
		}
		if !works(a.AccessToken) || !works(second.SignIn.AccessToken) {
			t.Fatal("a fresh session does not work")
		}
		e.client(a).do(t, updateProfile, map[string]any{"in": map[string]any{"password": "brand new password", "currentPassword": a.Password}})
		if works(second.SignIn.AccessToken) {
			t.Fatal("the other session's access token works after a password change")
		}
		if !works(a.AccessToken) {
			t.Fatal("the session that changed the password was ended")
		}
		e.client(a).do(t, `mutation($p: String) { deleteAccount(password: $p) }`, map[string]any{"p": "brand new password"})
		if works(a.AccessToken) {
			t.Fatal("the access token works after deleteAccount")
		}
	})
}

const updateProfile = `mutation($in: UpdateProfileInput!) { updateProfile(input: $in) { id nickname bio } }`

func TestUpdateProfile(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "before")
		other := e.signUp(t, "other session")
		_ = other
		// A second session of a, to see it end on a password change.
		var second signInData
		e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password}).Decode(t, &second)

		var out struct {
			UpdateProfile struct {
				ID, Nickname string
				Bio          *string
			}
		}
		e.client(a).do(t, updateProfile, map[string]any{"in": map[string]any{"nickname": "이영희", "bio": "새 소개 ✨"}}).Decode(t, &out)
		if out.UpdateProfile.Nickname != "이영희" || out.UpdateProfile.Bio == nil || *out.UpdateProfile.Bio != "새 소개 ✨" {
			t.Fatalf("updateProfile = %+v", out.UpdateProfile)
		}
		e.client(a).do(t, updateProfile, map[string]any{"in": map[string]any{"bio": ""}}).Decode(t, &out)
		if out.UpdateProfile.Bio != nil || out.UpdateProfile.Nickname != "이영희" {
			t.Fatalf("clearing the bio: %+v", out.UpdateProfile)
		}

		bad := []struct {
			in          map[string]any
			code, field string
		}{
			{map[string]any{"nickname": "x"}, "BAD_USER_INPUT", "nickname"},
			{map[string]any{"bio": strings.Repeat("b", 301)}, "BAD_USER_INPUT", "bio"},
			{map[string]any{"password": "new password!"}, "BAD_USER_INPUT", "currentPassword"},
			{map[string]any{"password": "new password!", "currentPassword": "not it"}, "BAD_USER_INPUT", "currentPassword"},
			{map[string]any{"password": "short", "currentPassword": a.Password}, "BAD_USER_INPUT", "password"},
		}
		for _, b := range bad {
			r := e.client(a).do(t, updateProfile, map[string]any{"in": b.in})
			if r.Code() != b.code || r.Errors[0].Extensions["field"] != b.field {
				t.Errorf("%v: %s, want %s on %s", b.in, r.Raw, b.code, b.field)
			}
		}
		if r := e.anon().do(t, updateProfile, map[string]any{"in": map[string]any{"nickname": "anon"}}); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous updateProfile: %s", r.Raw)
		}

		e.client(a).do(t, updateProfile, map[string]any{"in": map[string]any{"password": "a new password", "currentPassword": a.Password}}).Decode(t, &out)
		if r := e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("old password still signs in: %s", r.Raw)
		}
		var s signInData
		e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": "a new password"}).Decode(t, &s)
		// The session that changed the password goes on; the other one has ended.
		var v viewerData
		e.client(a).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer == nil {
			t.Fatal("the session that changed the password was ended")
		}
		e.as(second.SignIn.AccessToken).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer != nil {
			t.Fatal("another session survived the password change")
		}
	})
}

func TestDeleteAccount(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "doomed")
		b := e.signUp(t, "witness")
		del := `mutation($p: String) { deleteAccount(password: $p) }`
		if r := e.client(a).do(t, del, nil); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("delete without password: %s", r.Raw)
		}
		if r := e.client(a).do(t, del, map[string]any{"p": "wrong one"}); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("delete with a wrong password: %s", r.Raw)
		}
		var out struct{ DeleteAccount bool }
		e.client(a).do(t, del, map[string]any{"p": a.Password}).Decode(t, &out)
		if !out.DeleteAccount {
			t.Fatal("deleteAccount = false")
		}
		if r := e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("a deleted account signs in: %s", r.Raw)
		}
		var v viewerData
		e.client(a).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer != nil {
			t.Fatal("a deleted account's access token still works")
		}
		if r := e.anon().do(t, refreshMutation, map[string]any{"t": a.RefreshToken}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("a deleted account's refresh token works: %s", r.Raw)
		}
		var s searchData
		e.client(b).do(t, searchQuery, map[string]any{"q": "doomed"}).Decode(t, &s)
		if s.SearchUsers.TotalCount != 0 {
			t.Fatalf("search finds the deleted account: %+v", s)
		}
		if r := e.client(b).do(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": a.ID}); r.Code() != "NOT_FOUND" || !strings.Contains(r.Raw, `"node":null`) {
			t.Fatalf("node(id) of a deleted account: %s", r.Raw)
		}
		// The email is free again.
		var again struct {
			SignUp struct{ User struct{ ID string } }
		}
		e.anon().do(t, `mutation($in: SignUpInput!) { signUp(input: $in) { user { id } } }`,
			map[string]any{"in": map[string]any{"email": a.Email, "password": "another password", "nickname": "reborn"}}).Decode(t, &again)
		if again.SignUp.User.ID == a.ID {
			t.Fatal("signing up again reused the deleted account")
		}
	})
}

const searchQuery = `query($q: String!, $first: Int, $after: Cursor) { searchUsers(query: $q, first: $first, after: $after) {
	totalCount edges { cursor node { id nickname email friendship } } pageInfo { hasNextPage endCursor } } }`

type searchData struct {
	SearchUsers struct {
		TotalCount int
		Edges      []struct {
			Cursor string
			Node   struct {
				ID, Nickname, Friendship string
				Email                    *string
			}
		}
		PageInfo struct {
			HasNextPage bool
			EndCursor   *string
		}
	}
}

func TestSearchUsers(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		me := e.signUp(t, "검색하는사람")
		var want []string
		for i := 0; i < 5; i++ {
			want = append(want, e.signUp(t, fmt.Sprintf("민수%d", i)).ID)
		}
		e.signUp(t, "unrelated")

		// Pages of two, in order, no repeats, all five found.
		var got []string
		var after any
		for page := 0; page < 5; page++ {
			var s searchData
			e.client(me).do(t, searchQuery, map[string]any{"q": "민수", "first": 2, "after": after}).Decode(t, &s)
			if s.SearchUsers.TotalCount != 5 {
				t.Fatalf("totalCount = %d, want 5", s.SearchUsers.TotalCount)
			}
			for _, ed := range s.SearchUsers.Edges {
				got = append(got, ed.Node.ID)
				if ed.Node.Email != nil {
					t.Fatalf("another user's email is visible: %v", *ed.Node.Email)
				}
				if ed.Node.Friendship != "NONE" {
					t.Fatalf("friendship = %q, want NONE", ed.Node.Friendship)
				}
			}
			if !s.SearchUsers.PageInfo.HasNextPage {
				break
			}
			after = *s.SearchUsers.PageInfo.EndCursor
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("paged search = %v, want %v", got, want)
		}

		// A whole email matches too, ignoring case and surrounding space;
		// the viewer is never in the results.
		other := e.signUp(t, "mailable")
		var s searchData
		e.client(me).do(t, searchQuery, map[string]any{"q": " " + strings.ToUpper(other.Email) + " "}).Decode(t, &s)
		if s.SearchUsers.TotalCount != 1 || s.SearchUsers.Edges[0].Node.ID != other.ID {
			t.Fatalf("search by email = %+v", s.SearchUsers)
		}
		e.client(me).do(t, searchQuery, map[string]any{"q": "검색하는"}).Decode(t, &s)
		if s.SearchUsers.TotalCount != 0 {
			t.Fatalf("the viewer finds themself: %+v", s.SearchUsers)
		}
		// LIKE wildcards are literal.
		e.client(me).do(t, searchQuery, map[string]any{"q": "%"}).Decode(t, &s)
		if s.SearchUsers.TotalCount != 0 {
			t.Fatalf("%% matched %d users", s.SearchUsers.TotalCount)
		}
		for _, q := range []string{"", "   "} {
			if r := e.client(me).do(t, searchQuery, map[string]any{"q": q}); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("query %q: %s", q, r.Raw)
			}
		}
		if r := e.client(me).do(t, searchQuery, map[string]any{"q": "민수", "after": "not-a-cursor"}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("malformed cursor: %s", r.Raw)
		}
		if r := e.anon().do(t, searchQuery, map[string]any{"q": "민수"}); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous search: %s", r.Raw)
		}
	})
}

func TestNodeResolvesUsers(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "노드")
		b := e.signUp(t, "viewer")
		q := `query($id: ID!, $ids: [ID!]!) {
			node(id: $id) { id __typename ... on User { nickname email friendship } }
			nodes(ids: $ids) { id ... on User { nickname email } } }`
		var out struct {
			Node *struct {
				ID    string
				Email *string
			}
			Nodes []*struct {
				ID, Nickname string
				Email        *string
			}
		}
		r := e.client(b).do(t, q, map[string]any{"id": a.ID, "ids": []string{a.ID, b.ID, "999999999"}})
		r.DecodeData(t, &out)
		if len(r.Errors) != 1 || r.Code() != "NOT_FOUND" || fmt.Sprint(r.Errors[0].Path) != "[nodes 2]" {
			t.Fatalf("an unknown id in nodes must be null with a NOT_FOUND error at its index: %s", r.Raw)
		}
		mustContain(t, r.Raw, `"__typename":"User"`, `"nickname":"노드"`, `"friendship":"NONE"`)
		if out.Node == nil || out.Node.Email != nil {
			t.Fatalf("node = %s", r.Raw)
		}
		if len(out.Nodes) != 3 || out.Nodes[0].ID != a.ID || out.Nodes[1].ID != b.ID || out.Nodes[2] != nil {
			t.Fatalf("nodes = %s", r.Raw)
		}
		if out.Nodes[0].Email != nil || out.Nodes[1].Email == nil || *out.Nodes[1].Email != b.Email {
			t.Fatalf("emails in nodes: only the viewer's own may show: %s", r.Raw)
		}
		if r := e.client(b).do(t, `{ node(id: "abc") { id } }`, nil); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("malformed id: %s", r.Raw)
		}
		if r := e.anon().do(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": a.ID}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("anonymous node: %s", r.Raw)
		}
	})
}
