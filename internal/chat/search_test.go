package chat

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/viewer"
)

// corpus is a generated chat history: rooms, users in some of them, and
// messages of Korean-like words with particles, some Latin and digits.
type corpus struct {
	db     *database.DB
	viewer viewer.Viewer // a member of viewerRooms rooms
	bodies []string      // a sample of the stored bodies, for queries
	build  time.Duration // the index build over all messages (Migrate)
}

var (
	syllables = []rune("가나다라마바사아자차카타파하회의실예약민수지영내일오늘시간장소준비완료사진바다여행문서보고서결과확인부탁감사합니다점심저녁메뉴주말계획프로젝트일정변경회사집학교병원")
	particles = []string{"", "", "는", "은", "이", "가", "에게", "를", "을", "에서", "로", "도", "의"}
	latin     = []string{"meeting", "OK", "PDF", "release", "v2", "zoom", "slack", "review", "deploy", "lunch"}
)

func genBody(r *rand.Rand) string {
	n := 2 + r.IntN(7)
	words := make([]string, n)
	for i := range words {
		switch r.IntN(10) {
		case 0:
			words[i] = latin[r.IntN(len(latin))]
		case 1:
			words[i] = strconv.Itoa(r.IntN(1000))
		default:
			var b strings.Builder
			for range 1 + r.IntN(3) {
				b.WriteRune(syllables[r.IntN(len(syllables))])
			}
			b.WriteString(particles[r.IntN(len(particles))])
			words[i] = b.String()
		}
	}
	return strings.Join(words, " ")
}

// newCorpus stores messages messages over rooms rooms (each of users
// users a member of memberOf rooms; the viewer of viewerRooms) as an older
// chatty would have (no index), then has Migrate build the index.
func newCorpus(t testing.TB, backend string, rooms, messages, viewerRooms int) *corpus {
	t.Helper()
	ctx := context.Background()
	db := dbtest.Open(t, backend)
	c := &corpus{db: db}
	r := rand.New(rand.NewPCG(1, 2))
	var roomIDs []int
	for i := 0; i < rooms; i += 500 {
		var bulk []*ent.RoomCreate
		for j := i; j < min(rooms, i+500); j++ {
			bulk = append(bulk, db.Client.Room.Create().SetKind(room.KindGROUP).SetName(fmt.Sprint("room ", j)))
		}
		rs, err := db.Client.Room.CreateBulk(bulk...).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, rm := range rs {
			roomIDs = append(roomIDs, rm.ID)
		}
	}
	users := max(20, rooms/10)
	var userIDs []int
	for i := range users {
		u, err := db.Client.User.Create().SetNickname(fmt.Sprint("user", i)).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		userIDs = append(userIDs, u.ID)
	}
	// Every room has 10 members; user 0 (the viewer) is in the first viewerRooms.
	var ms []*ent.MembershipCreate
	for i, id := range roomIDs {
		members := map[int]bool{}
		if i < viewerRooms {
			members[userIDs[0]] = true
		}
		for len(members) < min(10, users) {
			members[userIDs[1+r.IntN(users-1)]] = true
		}
		for u := range members {
			ms = append(ms, db.Client.Membership.Create().SetRoomID(id).SetUserID(u))
		}
		if len(ms) >= 500 || i == len(roomIDs)-1 {
			if err := db.Client.Membership.CreateBulk(ms...).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			ms = nil
		}
	}
	c.viewer = viewer.Viewer{UserID: userIDs[0]}
	// Messages, as rows from before the index.
	seqs := make([]int64, len(roomIDs))
	now := time.Now().UTC()
	const rows = 500
	for i := 0; i < messages; i += rows {
		var b strings.Builder
		var args []any
		b.WriteString("INSERT INTO messages (created_at, kind, body, seq, revision, last_change, room_id, sender_id) VALUES ")
		for j := i; j < min(messages, i+rows); j++ {
			ri := r.IntN(len(roomIDs))
			seqs[ri]++
			body := genBody(r)
			if j%(messages/200+1) == 0 {
				c.bodies = append(c.bodies, body)
			}
			if j > i {
				b.WriteByte(',')
			}
			b.WriteString("(?, 'TEXT', ?, ?, ?, 'ADDED', ?, ?)")
			args = append(args, now, body, seqs[ri], seqs[ri], roomIDs[ri], userIDs[1+r.IntN(users-1)])
		}
		if _, err := db.SQL.ExecContext(ctx, b.String(), args...); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range roomIDs {
		if _, err := db.SQL.ExecContext(ctx, "UPDATE rooms SET last_seq = ?, revision = ? WHERE id = ?", seqs[i], seqs[i], id); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"DELETE FROM message_grams", "UPDATE message_grams_built SET done = 0, upto = 0"} {
		if _, err := db.SQL.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	c.build = time.Since(start)
	stats := "ANALYZE"
	if db.Dialect == dialect.MySQL {
		stats = "ANALYZE TABLE messages, memberships, message_grams"
	}
	if _, err := db.SQL.ExecContext(ctx, stats); err != nil {
		t.Fatal(err)
	}
	return c
}

// queries are what the benchmark searches: two- and three-character
// pieces of stored bodies, longer phrases, and a word that is nowhere.
func (c *corpus) queries(r *rand.Rand, n int) []string {
	var out []string
	for len(out) < n {
		body := []rune(c.bodies[r.IntN(len(c.bodies))])
		l := []int{2, 2, 3, 5}[r.IntN(4)]
		if len(body) < l {
			continue
		}
		start := r.IntN(len(body) - l + 1)
		q := strings.TrimSpace(string(body[start : start+l]))
		if len([]rune(q)) < 2 {
			continue
		}
		out = append(out, q)
	}
	return append(out, "없는낱말")
}

// The search reads the index by its key and messages by id: no scan of
// messages or of the index (EXPLAIN on both databases).
func TestSearchUsesTheIndex(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			c := newCorpus(t, backend, 50, 5000, 10)
			ctx := context.Background()
			s := NewService(c.db.Client, nil, WithDialect(c.db.Dialect))
			for _, text := range []string{"회의", "회의실 예약", "meeting"} {
				q, err := s.NewSearch(ctx, c.viewer, text, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, before := range []int{0, 123456} {
					query, args := q.candidates(c.db.Dialect, before, 20)
					plan := explain(t, c.db, query, args)
					t.Logf("%s %q:\n%s", backend, text, plan)
					if c.db.Dialect == dialect.MySQL {
						// id select_type table type possible_keys key key_len ref rows Extra
						for _, line := range strings.Split(plan, "\n") {
							f := strings.Split(line, "\t")
							if len(f) > 4 && (f[3] == "ALL" || f[3] == "index") {
								t.Errorf("%q scans %s: %s", text, f[2], line)
							}
							if len(f) > 4 && f[2] == "m" && f[3] != "eq_ref" {
								t.Errorf("%q reads messages other than by id: %s", text, line)
							}
						}
						if !strings.Contains(plan, "\tmb\tref\t") || !strings.Contains(plan, "\tg0\tref\tPRIMARY\tPRIMARY\t") && !strings.Contains(plan, "\tg0\trange\tPRIMARY\tPRIMARY\t") {
							t.Errorf("%q does not start from the viewer's memberships and the index's key", text)
						}
						continue
					}
					for _, line := range strings.Split(plan, "\n") {
						if strings.Contains(line, "SCAN") && !strings.Contains(line, "USING") {
							t.Errorf("%q scans a table: %s", text, line)
						}
					}
					if !strings.Contains(plan, "SEARCH g0 USING PRIMARY KEY (room_id=? AND gram=?") ||
						!strings.Contains(plan, "SEARCH m USING INTEGER PRIMARY KEY (rowid=?)") {
						t.Errorf("%q does not read the index by its key and messages by id", text)
					}
				}
			}
		})
	}
}

func explain(t *testing.T, db *database.DB, query string, args []any) string {
	t.Helper()
	prefix := "EXPLAIN QUERY PLAN "
	if db.Dialect == dialect.MySQL {
		prefix = "EXPLAIN "
	}
	rows, err := db.SQL.QueryContext(context.Background(), prefix+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		f := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			f[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(f, "\t"))
	}
	return strings.Join(out, "\n")
}

// BenchmarkSearchMessages searches a generated corpus (size from
// CHATTY_BENCH_SEARCH_MESSAGES, default 100 000, over a thousandth as
// many rooms, at least 100; the viewer in CHATTY_BENCH_SEARCH_ROOMS
// rooms, default 10) and reports the latency of a first page of 20 (p50,
// p95, max) and the index's size next to the messages table's.
//
//	CHATTY_BENCH_SEARCH_MESSAGES=1000000 go test ./internal/chat -run '^$' -bench SearchMessages -benchtime 1x
func BenchmarkSearchMessages(b *testing.B) {
	messages := envInt("CHATTY_BENCH_SEARCH_MESSAGES", 100_000)
	viewerRooms := envInt("CHATTY_BENCH_SEARCH_ROOMS", 10)
	rooms := max(100, messages/1000)
	for _, backend := range dbtest.Backends() {
		b.Run(backend, func(b *testing.B) {
			c := newCorpus(b, backend, rooms, messages, viewerRooms)
			ctx := context.Background()
			s := NewService(c.db.Client, nil, WithDialect(c.db.Dialect))
			qs := c.queries(rand.New(rand.NewPCG(3, 4)), 200)
			b.ResetTimer()
			var lat []time.Duration
			found := 0
			for range b.N {
				for _, text := range qs {
					start := time.Now()
					q, err := s.NewSearch(ctx, c.viewer, text, nil)
					if err != nil {
						b.Fatal(err)
					}
					ms, _, err := s.SearchMessages(ctx, q, 0, 20)
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
					found += len(ms)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.5), "p50-ms")
			b.ReportMetric(pct(0.95), "p95-ms")
			b.ReportMetric(pct(1), "max-ms")
			b.ReportMetric(float64(found)/float64(len(lat)), "found/search")
			msgs, grams := tableSizes(b, c.db)
			b.Logf("%s: %d messages in %d rooms, viewer in %d; index built in %s; messages %.1f MiB, message_grams %.1f MiB (%.2fx)",
				backend, messages, rooms, viewerRooms, c.build.Round(time.Millisecond), msgs/(1<<20), grams/(1<<20), grams/msgs)
		})
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// tableSizes is the bytes of the messages table (with its indexes) and
// of message_grams.
func tableSizes(t testing.TB, db *database.DB) (msgs, grams float64) {
	ctx := context.Background()
	size := func(table string) float64 {
		var n float64
		q := "SELECT SUM(pgsize) FROM dbstat WHERE name = ? OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = ? AND type = 'index')"
		args := []any{table, table}
		if db.Dialect == dialect.MySQL {
			q = "SELECT data_length + index_length FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
			args = []any{table}
		}
		if err := db.SQL.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
			t.Logf("size of %s: %v", table, err)
		}
		return n
	}
	return size("messages"), size("message_grams")
}
