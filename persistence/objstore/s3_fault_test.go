package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultRule is one fault of a faultHandler. A request takes the first rule
// whose op matches and that has requests remaining.
type faultRule struct {
	op        string // S3 operation (see classifyS3Request), "" for every one
	remaining int    // requests still to hit, -1 for all of them
	// What the request gets instead of the real answer: an S3 error...
	status int
	code   string
	// ...or a stall: the request is held until the client gives up (its
	// timeout or context) or releaseStalls, after which it is served...
	stall bool
	// ...or the real status and headers with half the body, then the
	// connection is dropped...
	truncate bool
	// ...or the request is served, its answer lost and replaced by the
	// status and code above (a success the client never hears of)...
	lose bool
	// ...or the real answer with one byte of its body changed...
	corrupt bool
	// ...or the whole object, as a server that ignores Range sends it.
	ignoreRange bool
}

// faultHandler sits in front of the fake S3 server: it counts requests per
// S3 operation, tracks how many are in flight, and applies fault rules.
type faultHandler struct {
	next    http.Handler
	stalled chan string   // receives the operation of each request that starts stalling
	release chan struct{} // closed by releaseStalls

	// mu guards the fields below.
	mu                    sync.Mutex
	rules                 []*faultRule
	counts                map[string]int
	inFlight, maxInFlight int
	released              bool
}

func newFaultHandler(next http.Handler) *faultHandler {
	return &faultHandler{
		next:    next,
		stalled: make(chan string, 1024),
		release: make(chan struct{}),
		counts:  map[string]int{},
	}
}

func (h *faultHandler) add(rule *faultRule) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rules = append(h.rules, rule)
}

func (h *faultHandler) resetCounts() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts = map[string]int{}
	h.maxInFlight = h.inFlight
}

func (h *faultHandler) count(op string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[op]
}

func (h *faultHandler) peakInFlight() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxInFlight
}

// releaseStalls lets every stalled request, and every later one, through.
func (h *faultHandler) releaseStalls() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.released {
		h.released = true
		close(h.release)
	}
}

// waitStalled returns once n requests have started stalling.
func (h *faultHandler) waitStalled(t *testing.T, n int) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second) // a guard against a hung test, not a synchronisation
	defer deadline.Stop()
	for range n {
		select {
		case <-h.stalled:
		case <-deadline.C:
			t.Fatalf("fewer than %d requests stalled", n)
		}
	}
}

// begin counts the request and picks its rule.
func (h *faultHandler) begin(op string) *faultRule {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[op]++
	h.inFlight++
	h.maxInFlight = max(h.maxInFlight, h.inFlight)
	for _, rule := range h.rules {
		if (rule.op == "" || rule.op == op) && rule.remaining != 0 {
			if rule.remaining > 0 {
				rule.remaining--
			}
			return rule
		}
	}
	return nil
}

func (h *faultHandler) end() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inFlight--
}

func (h *faultHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := classifyS3Request(r)
	rule := h.begin(op)
	defer h.end()
	switch {
	case rule == nil:
		h.next.ServeHTTP(w, r)
	case rule.stall:
		h.stalled <- op
		select {
		case <-r.Context().Done():
		case <-h.release:
			h.next.ServeHTTP(w, r)
		}
	case rule.truncate:
		serveTruncated(w, r, h.next)
	case rule.corrupt:
		recorder := httptest.NewRecorder()
		h.next.ServeHTTP(recorder, r)
		for name, values := range recorder.Header() {
			w.Header()[name] = values
		}
		body := recorder.Body.Bytes()
		if len(body) > 0 {
			body[len(body)/2] ^= 0x01
		}
		w.WriteHeader(recorder.Code)
		_, _ = w.Write(body)
	case rule.ignoreRange:
		r.Header.Del("Range")
		h.next.ServeHTTP(w, r)
	case rule.lose:
		h.next.ServeHTTP(httptest.NewRecorder(), r)
		writeS3Error(w, r, rule.status, rule.code)
	default:
		writeS3Error(w, r, rule.status, rule.code)
	}
}

// serveTruncated sends the real answer's status, headers and full
// Content-Length, then half the body, then drops the connection.
func serveTruncated(w http.ResponseWriter, r *http.Request, next http.Handler) {
	recorder := httptest.NewRecorder()
	next.ServeHTTP(recorder, r)
	body := recorder.Body.Bytes()
	for name, values := range recorder.Header() {
		w.Header()[name] = values
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(recorder.Code)
	_, _ = w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler) // closes the connection without a log line
}

func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+
			`<Error><Code>%s</Code><Message>injected fault</Message><RequestId>fault</RequestId></Error>`, code)
	}
}

// classifyS3Request names the S3 operation of a path-style request.
func classifyS3Request(r *http.Request) string {
	query := r.URL.Query()
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch r.Method {
	case http.MethodGet:
		switch {
		case key != "":
			return "GetObject"
		case query.Get("list-type") == "2":
			return "ListObjectsV2"
		}
		return "ListObjects"
	case http.MethodHead:
		if key == "" {
			return "HeadBucket"
		}
		return "HeadObject"
	case http.MethodPut:
		switch {
		case key == "":
			return "CreateBucket"
		case query.Has("partNumber"):
			return "UploadPart"
		}
		return "PutObject"
	case http.MethodPost:
		switch {
		case query.Has("uploads"):
			return "CreateMultipartUpload"
		case query.Has("uploadId"):
			return "CompleteMultipartUpload"
		}
	case http.MethodDelete:
		if query.Has("uploadId") {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	}
	return r.Method + " " + r.URL.Path
}

// exerciseEveryOp runs each Store method once on key, which holds data.
func exerciseEveryOp(ctx context.Context, store Store, key string, data []byte) map[string]error {
	errs := map[string]error{}
	errs["PutObject"] = store.Put(ctx, key, data)
	got, err := store.Get(ctx, key, 1, 3)
	if err == nil && !bytes.Equal(got, data[1:4]) {
		err = fmt.Errorf("Get = %q, want %q", got, data[1:4])
	}
	errs["GetObject"] = err
	_, errs["HeadObject"] = store.Head(ctx, key)
	_, errs["ListObjectsV2"] = store.List(ctx, "")
	errs["DeleteObject"] = store.Delete(ctx, key)
	return errs
}

// mentionsFault reports that err carries the injected code, or for a HEAD,
// whose response has no body, the injected status.
func mentionsFault(op string, err error, code string, status int) bool {
	if op == "HeadObject" {
		return strings.Contains(err.Error(), fmt.Sprintf("StatusCode: %d", status))
	}
	return strings.Contains(err.Error(), code)
}

func TestS3RetriesTransientFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		status int
		code   string
	}{
		{http.StatusServiceUnavailable, "SlowDown"},
		{http.StatusServiceUnavailable, "ServiceUnavailable"},
		{http.StatusInternalServerError, "InternalError"},
		{http.StatusBadGateway, "BadGateway"},
		{http.StatusTooManyRequests, "TooManyRequests"},
		{http.StatusBadRequest, "RequestTimeout"},
	}
	for _, test := range tests {
		t.Run(test.code, func(t *testing.T) {
			fake := newFakeS3(t)
			store := fake.newStore(t, nil) // 4 attempts
			for _, op := range []string{"PutObject", "GetObject", "HeadObject", "ListObjectsV2", "DeleteObject"} {
				fake.faults.add(&faultRule{op: op, remaining: 3, status: test.status, code: test.code})
			}
			for op, err := range exerciseEveryOp(ctx, store, "k/retried", []byte("0123456789")) {
				if op == "HeadObject" && test.status == http.StatusBadRequest {
					// A HEAD response has no body to carry the code: a bare
					// 400 is rightly final. Only the status-based faults
					// apply to HEAD.
					if err == nil || fake.faults.count(op) != 1 {
						t.Errorf("HeadObject answered a bare 400: %v after %d requests, want an error after 1", err, fake.faults.count(op))
					}
					continue
				}
				if err != nil {
					t.Errorf("%s after 3 × %d %s: %v", op, test.status, test.code, err)
				}
				if got := fake.faults.count(op); got != 4 {
					t.Errorf("%s: %d requests, want 4 (3 faults and a success)", op, got)
				}
			}
		})
	}
}

func TestS3RetriesTimeouts(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	// Long enough that a loaded CI machine does not time out healthy
	// requests too (which would only add retries, not fail the test).
	store := fake.newStore(t, func(c *S3Config) { c.RequestTimeout = 500 * time.Millisecond })
	ops := []string{"PutObject", "GetObject", "ListObjectsV2"}
	for _, op := range ops {
		fake.faults.add(&faultRule{op: op, remaining: 1, stall: true})
	}
	errs := exerciseEveryOp(ctx, store, "k/timeout", []byte("0123456789"))
	for _, op := range ops {
		if errs[op] != nil {
			t.Errorf("%s after one timed-out attempt: %v", op, errs[op])
		}
		if got := fake.faults.count(op); got < 2 {
			t.Errorf("%s: %d requests, want a timeout and then a success", op, got)
		}
	}
}

func TestS3RetriesTruncatedBody(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newStore(t, nil)
	data := patterned(64 << 10)
	mustPut(t, store, "k/truncated", data)
	fake.faults.add(&faultRule{op: "GetObject", remaining: 2, truncate: true})
	got, err := store.Get(ctx, "k/truncated", 100, -1)
	if err != nil || !bytes.Equal(got, data[100:]) {
		t.Fatalf("Get after two cut-short bodies = %d bytes, %v; want %d bytes", len(got), err, len(data)-100)
	}
	if requests := fake.faults.count("GetObject"); requests != 3 {
		t.Errorf("%d GetObject requests, want 3", requests)
	}
}

// GetInto reads the body into the caller's buffers: an attempt cut short
// leaves them to the retry, which fills them again from the start; a
// server that ignores Range gets its whole object buffered and the range
// copied out.
func TestS3GetIntoRetriesAndFallsBack(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newStore(t, nil)
	data := patterned(256 << 10)
	mustPut(t, store, "k/into", data)
	// The plain read lands in the buffer itself: nothing is returned to
	// copy from.
	direct := make([]byte, 5000)
	into := &readInto{dst: [][]byte{direct}, total: int64(len(direct))}
	rest, err := store.Get(context.WithValue(ctx, readIntoKey{}, into), "k/into", 777, into.total)
	if err != nil || !into.filled || len(rest) != 0 || !bytes.Equal(direct, data[777:777+len(direct)]) {
		t.Fatalf("read into place: filled %v, %d bytes returned, %v", into.filled, len(rest), err)
	}
	for _, rule := range []*faultRule{
		{op: "GetObject", remaining: 2, truncate: true},
		{op: "GetObject", remaining: 1, ignoreRange: true},
	} {
		fake.faults.add(rule)
		fake.faults.resetCounts()
		dst := [][]byte{make([]byte, 1000), make([]byte, 100<<10), make([]byte, 7)}
		for _, buf := range dst {
			for i := range buf {
				buf[i] = 0xee
			}
		}
		const offset = 12345
		if err := store.GetInto(ctx, "k/into", offset, dst...); err != nil {
			t.Fatalf("%+v: GetInto: %v", *rule, err)
		}
		at := offset
		for i, buf := range dst {
			if !bytes.Equal(buf, data[at:at+len(buf)]) {
				t.Fatalf("%+v: buffer %d differs from the object at %d", *rule, i, at)
			}
			at += len(buf)
		}
		want := 1
		if rule.truncate {
			want = 3
		}
		if got := fake.faults.count("GetObject"); got != want {
			t.Errorf("%+v: %d GetObject requests, want %d", *rule, got, want)
		}
	}
}

func TestS3PermanentFailure(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newStore(t, nil) // 4 attempts
	mustPut(t, store, "k/doomed", []byte("0123456789"))
	fake.faults.resetCounts()
	fake.faults.add(&faultRule{remaining: -1, status: http.StatusServiceUnavailable, code: "SlowDown"})
	for op, err := range exerciseEveryOp(ctx, store, "k/doomed", []byte("0123456789")) {
		if err == nil || errors.Is(err, ErrNotFound) || !mentionsFault(op, err, "SlowDown", http.StatusServiceUnavailable) {
			t.Errorf("%s under a permanent SlowDown: error %v, want a SlowDown error", op, err)
		}
		if got := fake.faults.count(op); got != 4 {
			t.Errorf("%s: %d requests, want 4 (MaxAttempts)", op, got)
		}
	}
}

func TestS3DoesNotRetryClientErrors(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newStore(t, nil)
	fake.faults.add(&faultRule{remaining: -1, status: http.StatusForbidden, code: "AccessDenied"})
	for op, err := range exerciseEveryOp(ctx, store, "k/denied", []byte("0123456789")) {
		if err == nil || !mentionsFault(op, err, "AccessDenied", http.StatusForbidden) {
			t.Errorf("%s: error %v, want AccessDenied", op, err)
		}
		if got := fake.faults.count(op); got != 1 {
			t.Errorf("%s: %d requests, want 1", op, got)
		}
	}
}

// TestS3StallEndsWithContext: a server that never answers holds a call no
// longer than its context, even with a long per-attempt timeout.
func TestS3StallEndsWithContext(t *testing.T) {
	fake := newFakeS3(t)
	store := fake.newStore(t, func(c *S3Config) { c.RequestTimeout = time.Minute })
	fake.faults.add(&faultRule{remaining: -1, stall: true})
	for _, call := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"Put", func(ctx context.Context) error { return store.Put(ctx, "k/stalled", []byte("x")) }},
		{"Get", func(ctx context.Context) error { _, err := store.Get(ctx, "k/stalled", 0, -1); return err }},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		err := call.run(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a stalled server: error %v, want context.DeadlineExceeded", call.name, err)
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("%s returned %v after its context ended", call.name, elapsed)
		}
	}
}

func TestS3BoundsRequestsInFlight(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newStore(t, func(c *S3Config) { c.MaxInFlight = 2 })
	mustPut(t, store, "k/shared", []byte("shared"))
	fake.faults.resetCounts()
	fake.faults.add(&faultRule{op: "GetObject", remaining: -1, stall: true})
	const readers = 6
	results := make(chan error, readers)
	for range readers {
		go func() {
			_, err := store.Get(ctx, "k/shared", 0, -1)
			results <- err
		}()
	}
	fake.faults.waitStalled(t, 2)
	if inFlight := store.InFlight(); inFlight != 2 {
		t.Errorf("InFlight() = %d with two requests stalled, want 2", inFlight)
	}
	// A call waiting for a slot gives up with its context.
	waitCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := store.Put(waitCtx, "k/other", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Put waiting for a slot: error %v, want context.DeadlineExceeded", err)
	}
	fake.faults.releaseStalls()
	for range readers {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	if peak := fake.faults.peakInFlight(); peak > 2 {
		t.Errorf("the server saw %d requests at once, want at most MaxInFlight 2", peak)
	}
	if requests := fake.faults.count("GetObject"); requests != readers {
		t.Errorf("%d GetObject requests, want %d", requests, readers)
	}
}

// TestS3MultipartCompleteAnswerLost: the completion succeeds but its answer
// is lost; the retry finds no upload (NoSuchUpload), and Put still succeeds
// because the object is there.
func TestS3MultipartCompleteAnswerLost(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newMultipartStore(t)
	fake.faults.add(&faultRule{op: "CompleteMultipartUpload", remaining: 1, lose: true, status: http.StatusInternalServerError, code: "InternalError"})
	data := patterned(minS3PartBytes + 10)
	mustPut(t, store, "big/lost-answer", data)
	if completes := fake.faults.count("CompleteMultipartUpload"); completes != 2 {
		t.Errorf("%d CompleteMultipartUpload requests, want 2", completes)
	}
	if got, err := store.Get(ctx, "big/lost-answer", 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %d bytes, %v; want %d", len(got), err, len(data))
	}
}

// TestS3WholeGetVerifiesChecksum: a whole-object read is checked against
// the object's checksum; a body corrupted in transit fails the attempt and
// the retry reads it intact.
func TestS3WholeGetVerifiesChecksum(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newStore(t, nil)
	data := patterned(4096)
	mustPut(t, store, "k/checked", data)
	fake.faults.add(&faultRule{op: "GetObject", remaining: 1, corrupt: true})
	got, err := store.Get(ctx, "k/checked", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after a corrupted body = %d bytes, %v; want the %d bytes put", len(got), err, len(data))
	}
	if requests := fake.faults.count("GetObject"); requests != 2 {
		t.Errorf("%d GetObject requests, want 2 (a corrupted body, then a good one)", requests)
	}
	fake.faults.add(&faultRule{op: "GetObject", remaining: -1, corrupt: true})
	if _, err := store.Get(ctx, "k/checked", 0, -1); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("Get of a body always corrupted: error %v, want a checksum error", err)
	}
}
