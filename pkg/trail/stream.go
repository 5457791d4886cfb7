package trail

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// Read reads one input (a file, an S3 object) as a stream and calls yield for each item in input order. The input
// may be gzip (recognised by its magic bytes, not its name) and hold, in any mix: EventBridge events, JSON arrays
// and JSON Lines (or concatenated values) of them, bare CloudTrail records, CloudTrail log files {"Records":[...]},
// LookupEvents output {"Events":[...]} or one of its events, CloudWatch Logs subscription payloads
// {"logEvents":[...]} (plain, or the {"awslogs":{"data":...}} event Lambda receives), and digest files.
//
// Records are read one at a time and decoded on GOMAXPROCS workers while reading goes on, so memory does not grow
// with the input. Damage loses only what it must: the items before it are yielded, the damage is one rejected item
// naming the byte offset (and line), and reading resumes at the next line that starts a JSON object or array
// (JSON Lines lose only their bad lines). Read returns yield's error, which stops it, or ctx's.
func Read(ctx context.Context, source string, r io.Reader, yield func(Item) error) error {
	return read(ctx, source, r, true, yield)
}

// batchRecords and batchBytes bound one unit of work handed to a worker: big enough that channel traffic is
// noise, small enough that a few in flight cost little memory.
const (
	batchRecords = 256
	batchBytes   = 1 << 20
)

// chunk is one value the reader found, before it is decoded.
type chunk struct {
	unit unit
	raw  []byte // a copy: the reader's buffer moves on
	err  error  // damage or an unreadable part: the item is rejected with it
}

type batch struct {
	chunks []chunk
	items  []Item
	done   chan struct{}
}

func read(ctx context.Context, source string, r io.Reader, fast bool, yield func(Item) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *batch, workers)
	order := make(chan *batch, 2*workers+2)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range work {
				b.items = make([]Item, len(b.chunks))
				for i, c := range b.chunks {
					b.items[i] = itemOf(c, fast)
				}
				close(b.done)
			}
		})
	}
	p := &producer{ctx: ctx, work: work, order: order}
	wg.Go(func() {
		defer close(order)
		defer close(work)
		p.run(r)
	})
	defer wg.Wait() // no goroutine outlives Read: the loop below drains order, and cancels on a yield error

	n := newNamer(source)
	var err error
	for b := range order {
		<-b.done
		for _, it := range b.items {
			if err == nil {
				err = n.add(it, yield)
			}
		}
		if err != nil {
			cancel()
		}
	}
	if err == nil {
		err = n.flush(yield)
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// itemOf decodes and classifies one chunk.
func itemOf(c chunk, fast bool) Item {
	if c.err != nil {
		return Item{Err: c.err, Decision: Decision{Class: Rejected, Err: c.err}}
	}
	x := examine(c.raw, c.unit, fast)
	return Item{Raw: x.raw, Record: x.rec, Err: x.err, Decision: x.d}
}

// namer gives items their Source: "path#index", or "path" when the input holds one item, which it knows only
// at the second item; so it holds one item back.
type namer struct {
	source string
	held   *Item
	n      int
}

func newNamer(source string) *namer {
	if source == "" {
		source = "input" // an Item always names where it came from
	}
	return &namer{source: source}
}

func (n *namer) add(it Item, yield func(Item) error) error {
	if n.held != nil {
		if err := n.emit(n.source+"#"+strconv.Itoa(n.n-1), *n.held, yield); err != nil {
			return err
		}
	}
	n.held = &it
	n.n++
	return nil
}

func (n *namer) flush(yield func(Item) error) error {
	if n.held == nil {
		return nil
	}
	name := n.source
	if n.n > 1 {
		name += "#" + strconv.Itoa(n.n-1)
	}
	return n.emit(name, *n.held, yield)
}

// emit makes every error of the item name it.
func (n *namer) emit(name string, it Item, yield func(Item) error) error {
	it.Source = name
	for _, err := range []error{it.Err, it.Decision.Err} {
		var e *Error
		if errors.As(err, &e) && e.Source == "" {
			e.Source = name // each *Error here was made for this item alone
		}
	}
	if it.Err != nil && !isOurs(it.Err) {
		it.Err = &Error{Source: name, Reason: "undecodable input", Err: it.Err}
	}
	if d := &it.Decision; d.Err != nil && !isOurs(d.Err) {
		d.Err = &Error{Source: name, Reason: "undecodable input", Err: d.Err}
	}
	return yield(it)
}

func isOurs(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// producer reads the input and hands chunks out in batches.
type producer struct {
	ctx   context.Context
	work  chan<- *batch
	order chan<- *batch
	cur   *batch
	size  int
	any   bool // some value or damage was found

	pb     *pushback         // the unpacked input
	dec    *jsontext.Decoder // reads pb through in; replaced after damage
	in     *counter
	base   int64 // the current decoder's start: its byte offset in the unpacked input
	lines0 int64 // and the number of lines before it
	depth  int   // nesting of awslogs payloads, which hold a stream of their own
}

func (p *producer) run(r io.Reader) {
	src, err := unpack(p.ctx, r)
	if err != nil {
		p.emit(chunk{err: &Error{Reason: "unreadable input", Err: err}})
		p.flush()
		return
	}
	p.stream(src)
	if !p.any && p.ctx.Err() == nil {
		p.emit(chunk{err: &Error{Reason: "empty input"}})
	}
	p.flush()
}

// unpack undoes gzip (by its magic bytes) and a UTF-8 byte order mark some editors write. Gunzip runs on a
// goroutine of its own, so that it and the JSON reading use two cores.
func unpack(ctx context.Context, r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		br = bufio.NewReaderSize(ahead(ctx, gz), 64<<10)
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	return br, nil
}

// stream reads a sequence of top-level JSON values from src.
func (p *producer) stream(src io.Reader) {
	pb, dec, in, base, lines0 := p.pb, p.dec, p.in, p.base, p.lines0
	defer func() { p.pb, p.dec, p.in, p.base, p.lines0 = pb, dec, in, base, lines0 }()
	p.pb = &pushback{r: src}
	p.in, p.base, p.lines0 = &counter{r: p.pb}, 0, 0
	p.dec = jsontext.NewDecoder(p.in, decodeOptions...)
	for p.ctx.Err() == nil {
		var err error
		k := p.dec.PeekKind()
		p.any = p.any || k != jsontext.KindInvalid
		switch k {
		case '{':
			err = p.object()
		case '[':
			err = p.array()
		case jsontext.KindInvalid:
			if _, err = p.dec.ReadToken(); err == io.EOF {
				return
			}
		default:
			err = p.value(unitAny)
		}
		if err != nil && !p.damaged(err) {
			return
		}
	}
}

// value hands the next value out as one chunk.
func (p *producer) value(u unit) error {
	v, err := p.dec.ReadValue()
	if err != nil {
		return err
	}
	p.emit(chunk{unit: u, raw: bytes.Clone(v)})
	return nil
}

// array reads a top-level array: its elements are events, records or containers of them.
func (p *producer) array() error {
	if _, err := p.dec.ReadToken(); err != nil {
		return err
	}
	for {
		switch p.dec.PeekKind() {
		case ']':
			_, err := p.dec.ReadToken()
			return err
		case '{':
			if err := p.object(); err != nil {
				return err
			}
		case jsontext.KindInvalid:
			_, err := p.dec.ReadToken()
			return err
		default:
			if err := p.value(unitAny); err != nil {
				return err
			}
		}
	}
}

// object reads an object without holding it whole: the elements of Records, Events and logEvents are handed out
// one by one as they are read. Any other object (an event, a bare record, a digest file) is handed out whole.
func (p *producer) object() error {
	if _, err := p.dec.ReadToken(); err != nil {
		return err
	}
	var kept [][2][]byte // members other than a streamed container, in case the object is no container
	streamed, control := false, false
	for p.dec.PeekKind() == '"' {
		nameV, err := p.dec.ReadValue()
		if err != nil {
			return err
		}
		name := string(unquote(nameV))
		nameV = bytes.Clone(nameV)
		u, isContainer := map[string]unit{"Records": unitRecord, "Events": unitLookup, "logEvents": unitLogEvent}[name]
		switch {
		case isContainer && p.dec.PeekKind() == '[':
			if u == unitLogEvent && control {
				u = unitControl
			}
			streamed = true
			if err := p.elements(u); err != nil {
				return err
			}
		case name == "awslogs" && p.depth == 0:
			v, err := p.dec.ReadValue()
			if err != nil {
				return err
			}
			streamed = true
			data, err := awslogsData(v)
			if err != nil {
				p.emit(chunk{err: &Error{Reason: "CloudWatch Logs subscription event: undecodable awslogs.data", Err: err}})
				continue
			}
			p.depth++
			p.nested(data)
			p.depth--
		default:
			v, err := p.dec.ReadValue()
			if err != nil {
				return err
			}
			if name == "messageType" && string(v) == `"CONTROL_MESSAGE"` {
				control = true // CloudWatch Logs' test message: its logEvents are no records
			}
			kept = append(kept, [2][]byte{nameV, bytes.Clone(v)})
		}
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return err
	}
	if !streamed {
		p.emit(chunk{unit: unitAny, raw: rebuild(kept)})
	}
	return nil
}

// elements hands out each element of the array that comes next as a chunk of unit u.
func (p *producer) elements(u unit) error {
	if _, err := p.dec.ReadToken(); err != nil {
		return err
	}
	for k := p.dec.PeekKind(); k != ']' && k != jsontext.KindInvalid; k = p.dec.PeekKind() {
		if err := p.value(u); err != nil {
			return err
		}
	}
	_, err := p.dec.ReadToken()
	return err
}

// nested reads the gzipped payload of an awslogs event as a stream of its own.
func (p *producer) nested(data []byte) {
	src, err := unpack(p.ctx, bytes.NewReader(data))
	if err != nil {
		p.emit(chunk{err: &Error{Reason: "CloudWatch Logs subscription event: undecodable awslogs.data", Err: err}})
		return
	}
	p.stream(src)
}

// rebuild writes an object back from its members, which are valid JSON.
func rebuild(members [][2][]byte) []byte {
	n := 2
	for _, m := range members {
		n += len(m[0]) + len(m[1]) + 2
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, m[0]...), ':'), m[1]...)
	}
	return append(b, '}')
}

// damaged hands out the damage err as a rejected chunk and moves the decoder past it. It returns false when
// nothing more can be read.
func (p *producer) damaged(err error) bool {
	inOff := p.dec.InputOffset() // the end of the last value or token read well
	offset := inOff
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		offset = se.ByteOffset
	}
	unread := bytes.Clone(p.dec.UnreadBuffer()) // read from the input but not yet decoded: from inOff on
	rel := max(0, min(int(offset-inOff), len(unread)))
	linesAtInOff := p.lines0 + p.in.lines - int64(bytes.Count(unread, newline))
	where := fmt.Sprintf("at byte %d (line %d", p.base+offset, linesAtInOff+int64(bytes.Count(unread[:rel], newline))+1)
	if se != nil && se.JSONPointer != "" {
		where += ", in " + string(se.JSONPointer)
	}
	where += ")"
	if p.in.err != nil || se == nil {
		// The reader failed (a truncated or corrupt gzip stream, an I/O error): nothing after it can be read.
		p.emit(chunk{err: &Error{Reason: "unreadable input " + where, Err: cmp.Or(p.in.err, err)}})
		p.any = true
		return false
	}
	cause := se.Err
	if cause == io.ErrUnexpectedEOF {
		cause = errors.New("unexpected end of input: the file is truncated")
	}
	p.emit(chunk{err: &Error{Reason: "invalid JSON " + where, Err: cause}})
	p.any = true

	// Resume at the next line that starts a JSON object or array: the next line of JSON Lines. The lines of a
	// broken pretty-printed document are indented, so its remainder counts as this one damage.
	p.pb.unread(unread)
	p.base, p.lines0 = p.base+inOff, linesAtInOff
	n, lines := p.pb.skipBlank()
	p.base, p.lines0 = p.base+n, p.lines0+lines
	for {
		n, ok := p.pb.skipLine()
		p.base, p.lines0 = p.base+n, p.lines0+1
		if !ok {
			return false
		}
		if c, ok := p.pb.peek(); !ok {
			return false
		} else if c == '{' || c == '[' {
			break
		}
	}
	p.in = &counter{r: p.pb}
	p.dec = jsontext.NewDecoder(p.in, decodeOptions...)
	return true
}

var newline = []byte("\n")

func (p *producer) emit(c chunk) {
	if p.cur == nil {
		p.cur = &batch{done: make(chan struct{})}
	}
	p.cur.chunks = append(p.cur.chunks, c)
	p.size += len(c.raw)
	if len(p.cur.chunks) >= batchRecords || p.size >= batchBytes {
		p.flush()
	}
}

// flush hands the current batch to a worker and queues it for the consumer, in order.
func (p *producer) flush() {
	b := p.cur
	if b == nil {
		return
	}
	p.cur, p.size = nil, 0
	select {
	case p.order <- b:
	case <-p.ctx.Done():
		return
	}
	select {
	case p.work <- b:
	case <-p.ctx.Done():
		close(b.done) // never decoded: the consumer has stopped
	}
}

// counter counts the newlines read through it, for line numbers in errors, and keeps the reader's own failure
// apart from the JSON's.
type counter struct {
	r     io.Reader
	lines int64
	err   error // the first error of r other than io.EOF
}

func (c *counter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.lines += int64(bytes.Count(b[:n], newline))
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// pushback is a reader that can be handed back bytes already read, so that reading resumes before them.
type pushback struct {
	r       io.Reader
	pending []byte
	buf     [32 << 10]byte
	err     error
}

func (p *pushback) Read(b []byte) (int, error) {
	if len(p.pending) > 0 {
		n := copy(b, p.pending)
		p.pending = p.pending[n:]
		return n, nil
	}
	if p.err != nil {
		return 0, p.err
	}
	return p.r.Read(b)
}

// unread hands b back: it comes before anything not yet read.
func (p *pushback) unread(b []byte) { p.pending = append(b, p.pending...) }

// fill makes pending hold something, unless the input has ended.
func (p *pushback) fill() bool {
	for len(p.pending) == 0 {
		if p.err != nil {
			return false
		}
		var n int
		n, p.err = p.r.Read(p.buf[:])
		p.pending = p.buf[:n]
	}
	return true
}

func (p *pushback) peek() (byte, bool) {
	if !p.fill() {
		return 0, false
	}
	return p.pending[0], true
}

// skipBlank discards whitespace; it returns how many bytes and newlines.
func (p *pushback) skipBlank() (n, lines int64) {
	for p.fill() {
		i := 0
		for i < len(p.pending) && (p.pending[i] == ' ' || p.pending[i] == '\t' || p.pending[i] == '\r' || p.pending[i] == '\n') {
			if p.pending[i] == '\n' {
				lines++
			}
			i++
		}
		n += int64(i)
		p.pending = p.pending[i:]
		if len(p.pending) > 0 {
			break
		}
	}
	return n, lines
}

// skipLine discards through the next newline; ok is false when the input ends first.
func (p *pushback) skipLine() (n int64, ok bool) {
	for p.fill() {
		if i := bytes.IndexByte(p.pending, '\n'); i >= 0 {
			p.pending = p.pending[i+1:]
			return n + int64(i+1), true
		}
		n += int64(len(p.pending))
		p.pending = nil
	}
	return n, false
}

// ahead reads r on a goroutine of its own, a few chunks ahead of the caller. The goroutine ends at the end of r
// or when ctx is done.
func ahead(ctx context.Context, r io.Reader) io.Reader {
	const chunkSize, inFlight = 256 << 10, 4
	chunks := make(chan aheadChunk, inFlight)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, chunkSize)
			n := 0
			var err error
			for n < len(buf) && err == nil {
				var m int
				m, err = r.Read(buf[n:])
				n += m
			}
			select {
			case chunks <- aheadChunk{buf[:n], err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return &aheadReader{chunks: chunks}
}

type aheadChunk struct {
	data []byte
	err  error
}

type aheadReader struct {
	chunks <-chan aheadChunk
	cur    aheadChunk
}

func (a *aheadReader) Read(b []byte) (int, error) {
	for len(a.cur.data) == 0 {
		if a.cur.err != nil {
			return 0, a.cur.err
		}
		c, ok := <-a.chunks
		if !ok {
			return 0, io.ErrUnexpectedEOF // the reader was stopped before the end
		}
		a.cur = c
	}
	n := copy(b, a.cur.data)
	a.cur.data = a.cur.data[n:]
	return n, nil
}
