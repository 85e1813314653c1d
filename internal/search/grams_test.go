package search

import (
	"slices"
	"testing"
)

func TestGramsCoverEverySubstring(t *testing.T) {
	text := "내일 회의는 10시 Meeting🎉!"
	all := Grams(text, "회의록.PDF")
	for _, q := range []string{"회의", "의는 ", "MEETING", "g🎉", "10", "록.p", "pdf"} {
		for _, g := range Grams(q) {
			if !slices.Contains(all, g) {
				t.Errorf("a gram of %q is not among the text's", q)
			}
		}
	}
	if n := len(Grams("aaaa")); n != 1 {
		t.Errorf("aaaa has %d distinct grams, want 1", n)
	}
	if len(Grams("a")) != 0 || len(Grams("")) != 0 {
		t.Errorf("a text under two characters has grams")
	}
	if slices.Contains(Grams("ab", "cd"), Grams("bc")[0]) {
		t.Errorf("a gram spans two texts")
	}
}

func TestContainsIsLiteral(t *testing.T) {
	for _, c := range []struct {
		text, q string
		want    bool
	}{
		{"100% 완료", "0%", true}, {"abc", "a_c", false}, {"abc", "a%", false},
		{`C:\temp`, `\t`, true}, {"ÄRGER", "ärg", true}, {"민수에게", "수에", true},
	} {
		if got := Contains(c.text, c.q); got != c.want {
			t.Errorf("Contains(%q, %q) = %v", c.text, c.q, got)
		}
	}
}

func TestDiff(t *testing.T) {
	add, remove := Diff([]int64{1, 2, 3}, []int64{2, 3, 4})
	if !slices.Equal(add, []int64{4}) || !slices.Equal(remove, []int64{1}) {
		t.Errorf("Diff: add %v remove %v", add, remove)
	}
	if got := BulkInsertSQL("mysql", []Row{{1, 2, []int64{7, 8, 9}}}, 2, true); len(got) != 2 ||
		got[0] != "INSERT IGNORE INTO message_grams (room_id, gram, message_id) VALUES (1,7,2),(1,8,2)" {
		t.Errorf("BulkInsertSQL: %q", got)
	}
}
