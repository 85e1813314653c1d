package auth

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	p := PasswordParams{Memory: 1024, Time: 1, Threads: 1}
	h := hashPassword("비밀번호 🔑 long", p)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") || strings.Contains(h, "비밀번호") {
		t.Fatalf("hash = %q", h)
	}
	if h2 := hashPassword("비밀번호 🔑 long", p); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if ok, err := checkPassword("비밀번호 🔑 long", h); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := checkPassword("비밀번호 🔑 lonG", h); ok {
		t.Fatal("wrong password accepted")
	}
	// The parameters stored in the hash are used, not the current defaults.
	if ok, _ := checkPassword("x", hashPassword("x", DefaultPasswordParams)); !ok {
		t.Fatal("a hash made with other parameters does not verify")
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=1024,t=0,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=1024,t=1,p=1$!!$a2V5"} {
		if _, err := checkPassword("x", bad); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}
