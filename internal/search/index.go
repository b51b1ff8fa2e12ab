// Package search is the full-text index behind /search and dozor search:
// every stored article, searchable with the topics' query language and
// morphology.
//
// bbolt stays the source of truth. The index is a derived copy, a bleve
// (scorch) directory next to the database, that can be thrown away and
// rebuilt at any time: Open does exactly that when the directory is torn,
// garbage or built with another MappingVersion, and says so (fresh), so
// the caller indexes everything again.
//
// # Search and topics agree
//
// For any query without topic:, since: or until:, the articles the index
// matches are exactly those for which
//
//	q.Match(analysis.Analyze(doc.Title, doc.Text, doc.Site))
//
// is true. This holds by construction, not by tuning an analyzer to look
// alike:
//
//   - Put runs analysis.Analyze on every Doc and indexes its title stems
//     and its text stems as they are, in two fields ("title", "text"), one
//     token per stem at consecutive positions. bleve's own analyzers (Porter
//     for English, a Russian stemmer that does not fold ё, their own
//     tokenizers) are never used.
//   - The query is translated from (*query.Query).Tree(), whose words are
//     already stemmed by analysis.Stem, into bleve query objects; bleve's
//     query-string syntax is never parsed. A word is a term in title OR text
//     (Doc.Has); a phrase is a phrase in title OR in text, never across
//     (Doc.HasPhrase).
//   - lang: is a keyword field holding analysis.Analyze(...).Lang of the
//     indexed title and text: the language Match sees for the same text.
//     Doc.Lang (the language stored on the article, detected from the
//     feed's text) is not indexed: when the page's text replaced the feed's
//     the two may differ, and only the detected one agrees with Match.
//   - site: is a keyword field holding analysis.SiteOf(Doc.Site) and every
//     parent domain of it (news.finextra.com, finextra.com, com), so one
//     term lookup is Doc.OnSite.
//   - An exclusion is a bleve boolean query with a must-not clause; see
//     translate.go for how bleve runs a boolean query with only must-not
//     clauses and why that is what Match does.
//
// topic: is a keyword field of the topics the article matched (compared
// case-insensitively); since: and until: are a date range on Doc.Time
// (since: inclusive, until: inclusive). An article without a time (zero,
// or outside the years 1678–2262 that bleve can represent) matches neither.
package search

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	banalysis "github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/registry"
	bquery "github.com/blevesearch/bleve/v2/search/query"
	butil "github.com/blevesearch/bleve/v2/util"
	bindex "github.com/blevesearch/bleve_index_api"
	bolt "go.etcd.io/bbolt"

	"dozor/internal/analysis"
)

// MappingVersion changes whenever the mapping or the analysis changes; an
// index built with another is rebuilt. 2: tokens carry no byte offsets,
// and the time's doc values are one term.
const MappingVersion = 2

// Doc is what is indexed of one article.
type Doc struct {
	ID      uint64 // article id
	StoryID uint64 // 0 if not folded yet
	Title   string
	Text    string // the best text: the page's when there is one, else the feed's
	Site    string // the article URL (or host) the article is from; SiteOf is applied inside
	// Lang is the language stored on the article. It is not indexed: lang:
	// matches the language analysis.Analyze detects in Title and Text, the
	// one q.Match sees (see the package documentation).
	Lang   string
	Topics []string  // topics the article matched
	Time   time.Time // when it appeared (storage.Article.Time())
}

// Field names.
const (
	fTitle  = "title"  // title stems, one token each
	fText   = "text"   // text stems, one token each
	fLang   = "lang"   // detected language: "ru", "en"; absent if neither
	fSite   = "site"   // the site and each parent domain
	fTopics = "topics" // topic names, lower case
	fStory  = "story"  // StoryID in decimal, "0" if not folded; doc values
	fTime   = "time"   // Doc.Time, for since: and until:
	fWhen   = "when"   // Doc.Time in Unix nanoseconds, decimal; doc values
)

const (
	keyVersion = "dozor.mapping_version"
	keyMark    = "dozor.mark"

	stemTokenizer = "dozor_stems"
	stemAnalyzer  = "dozor_stems"
)

// lockWait is how long Open waits for another process holding the index
// (bbolt's file lock) before giving up with ErrLocked. A variable for tests.
var lockWait = 2 * time.Second

// ErrLocked is returned by Open when another process has the index open.
var ErrLocked = errors.New("search: the index is in use by another process")

// Index is an open search index. Its methods may be called from many
// goroutines at once.
type Index struct {
	idx     bleve.Index
	rebuilt error // why Open rebuilt it

	// maxMatches caps the articles one Search folds: beyond it the result
	// is Partial. A field so tests can lower it.
	maxMatches int
	// onMatch, if set, runs for every match Search sees: a test hook.
	onMatch func()
}

// DefaultMaxMatches is how many matching articles Search looks at, at
// most, before it stops and reports a Partial result.
const DefaultMaxMatches = 10000

func init() {
	// The stems analyzer is registered so that the mapping stored in the
	// index describes the text fields truthfully; Put uses the same
	// tokenizer directly.
	if err := registry.RegisterTokenizer(stemTokenizer, func(map[string]any, *registry.Cache) (banalysis.Tokenizer, error) {
		return spaceTokenizer{}, nil
	}); err != nil {
		panic(err)
	}
}

// spaceTokenizer splits pre-analysed text, stems joined by single spaces,
// into one token per stem at consecutive positions from 1. Stems never
// contain a space: analysis splits words at anything but letters, digits
// and inner apostrophes.
//
// Tokens carry no byte offsets (Start and End are 0). Phrases need only
// positions, and snippets are found in the plain text, not from bleve's
// locations, while zap stores each occurrence's offsets as two varints
// beside its position: a third of the index, and of the pages a phrase
// query reads.
type spaceTokenizer struct{}

func (spaceTokenizer) Tokenize(b []byte) banalysis.TokenStream {
	ts := make(banalysis.TokenStream, 0, len(b)/6+1)
	start := 0
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] != ' ' {
			continue
		}
		if i > start {
			ts = append(ts, &banalysis.Token{Term: b[start:i],
				Position: len(ts) + 1, Type: banalysis.AlphaNumeric})
		}
		start = i + 1
	}
	return ts
}

var stemsAnalyzer = &banalysis.DefaultAnalyzer{Tokenizer: spaceTokenizer{}}

// newMapping describes the fields Put writes. Documents are built by Put
// directly (Batch.IndexAdvanced), so the mapping is never used to map a
// document; it sets the scoring model and documents the index.
func newMapping() (*mapping.IndexMappingImpl, error) {
	im := bleve.NewIndexMapping()
	im.ScoringModel = bindex.TFIDFScoring // see Search for why not BM25
	im.StoreDynamic = false
	im.IndexDynamic = false
	im.DocValuesDynamic = false
	if err := im.AddCustomAnalyzer(stemAnalyzer, map[string]any{
		"type":      custom.Name,
		"tokenizer": stemTokenizer,
	}); err != nil {
		return nil, err
	}
	text := func() *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = stemAnalyzer
		f.Store, f.IncludeInAll, f.DocValues, f.IncludeTermVectors = false, false, false, true
		return f
	}
	keyword := func(docValues bool) *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Store, f.IncludeInAll, f.DocValues, f.IncludeTermVectors = false, false, docValues, false
		return f
	}
	when := bleve.NewDateTimeFieldMapping()
	when.Store, when.IncludeInAll, when.DocValues = false, false, false

	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt(fTitle, text())
	dm.AddFieldMappingsAt(fText, text())
	dm.AddFieldMappingsAt(fLang, keyword(false))
	dm.AddFieldMappingsAt(fSite, keyword(false))
	dm.AddFieldMappingsAt(fTopics, keyword(false))
	dm.AddFieldMappingsAt(fStory, keyword(true))
	dm.AddFieldMappingsAt(fTime, when)
	dm.AddFieldMappingsAt(fWhen, keyword(true))
	im.DefaultMapping = dm
	im.DefaultField = fText
	return im, nil
}

// Open opens the index at path, creating it if missing. An index that
// cannot be opened (a torn segment after kill -9, garbage) or that was
// built with another MappingVersion is removed and created empty; fresh is
// true then (and for a new one), telling the caller to index everything
// again.
//
// To never wipe something that is not an index (a path set to the
// database's own file or directory by mistake), Open only ever removes a
// directory that holds nothing but what bleve writes (index_meta.json and
// store/); anything else at path is an error. An index another process
// holds open is ErrLocked, not garbage.
func Open(path string) (x *Index, fresh bool, err error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		x, err = create(path)
		return x, true, err
	case err != nil:
		return nil, false, fmt.Errorf("search: %w", err)
	case !st.IsDir():
		return nil, false, fmt.Errorf("search: %s is not a directory, so not an index: refusing to replace it", path)
	}
	if empty, err := onlyIndexFiles(path); err != nil {
		return nil, false, err
	} else if empty {
		x, err = create(path)
		return x, true, err
	}
	x, openErr := openExisting(path)
	if openErr == nil {
		return x, false, nil
	}
	if errors.Is(openErr, ErrLocked) {
		return nil, false, openErr
	}
	if err := os.RemoveAll(path); err != nil {
		return nil, false, fmt.Errorf("search: remove the unusable index (%v): %w", openErr, err)
	}
	x, err = create(path)
	if x != nil {
		x.rebuilt = openErr
	}
	return x, true, err
}

// Rebuilt says why Open threw the index at its path away and created it
// empty (torn, garbage, another MappingVersion); nil if it did not.
func (x *Index) Rebuilt() error { return x.rebuilt }

// onlyIndexFiles refuses a directory holding files bleve does not write;
// empty reports one with nothing in it.
func onlyIndexFiles(path string) (empty bool, err error) {
	ents, err := os.ReadDir(path)
	if err != nil {
		return false, fmt.Errorf("search: %w", err)
	}
	for _, e := range ents {
		switch e.Name() {
		case "index_meta.json", "store":
		default:
			return false, fmt.Errorf("search: %s holds %q, so it is not (only) a search index: refusing to replace it", path, e.Name())
		}
	}
	return len(ents) == 0, nil
}

// runtimeConfig is scorch's configuration. Its merge policy allows at most
// two segments of a size tier, not ten: every query runs over every
// segment, and with bleve's default an archive of 100,000 articles settles
// at eleven segments and its slowest queries take half as long again. The
// merges this costs are a few seconds while a whole archive is indexed,
// nothing at dozor's pace of a few thousand articles a day.
func runtimeConfig() map[string]any {
	return map[string]any{
		"bolt_timeout":           lockWait.String(),
		"scorchMergePlanOptions": map[string]any{"MaxSegmentsPerTier": 2},
	}
}

// openExisting opens an index, failing on anything unusable: torn or
// garbage files, an error or a panic from bleve, another mapping version.
func openExisting(path string) (x *Index, err error) {
	var idx bleve.Index
	defer func() {
		if r := recover(); r != nil {
			if idx != nil {
				_ = idx.Close()
			}
			x, err = nil, fmt.Errorf("search: opening the index panicked: %v", r)
		}
	}()
	if err := checkSegments(path); err != nil {
		return nil, err
	}
	// bleve returns a typed nil with its error: keep idx a true nil then,
	// so the recover above does not close it.
	opened, err := bleve.OpenUsing(path, runtimeConfig())
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, ErrLocked
		}
		return nil, err
	}
	idx = opened
	v, err := idx.GetInternal([]byte(keyVersion))
	if err == nil && string(v) != strconv.Itoa(MappingVersion) {
		err = fmt.Errorf("search: index built with mapping version %q, want %d", v, MappingVersion)
	}
	if err != nil {
		_ = idx.Close()
		return nil, err
	}
	return &Index{idx: idx, maxMatches: DefaultMaxMatches}, nil
}

// checkSegments verifies, before bleve opens them, the CRC-32 of every
// segment file the index's newest snapshot uses (as listed in scorch's
// store/root.bolt). bleve does not: it opens a torn segment and then
// panics reading it, sometimes in a goroutine of its own where no recover
// can catch it, taking the whole process down. A zap segment ends with the
// big-endian CRC-32 (IEEE) of everything before it. Files no snapshot
// lists (say, half a merge when the process was killed) are not checked:
// bleve deletes them on open.
func checkSegments(path string) error {
	store := filepath.Join(path, "store")
	root := filepath.Join(store, "root.bolt")
	if _, err := os.Stat(root); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	db, err := bolt.Open(root, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockWait})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return ErrLocked
		}
		return fmt.Errorf("search: %s: %w", root, err)
	}
	defer db.Close()
	var files []string
	err = db.View(func(tx *bolt.Tx) error {
		snaps := tx.Bucket(butil.BoltSnapshotsBucket)
		if snaps == nil {
			return nil
		}
		k, _ := snaps.Cursor().Last()
		if k == nil {
			return nil
		}
		snap := snaps.Bucket(k)
		if snap == nil {
			return fmt.Errorf("search: snapshot %x is not a bucket", k)
		}
		return snap.ForEach(func(k, _ []byte) error {
			if len(k) == 0 || k[0] == butil.BoltInternalKey[0] || k[0] == butil.BoltMetaDataKey[0] {
				return nil
			}
			seg := snap.Bucket(k)
			if seg == nil {
				return fmt.Errorf("search: segment %x is not a bucket", k)
			}
			p := seg.Get(butil.BoltPathKey)
			if len(p) == 0 || strings.ContainsAny(string(p), `/\`) {
				return fmt.Errorf("search: segment %x has a bad path %q", k, p)
			}
			files = append(files, filepath.Join(store, string(p)))
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := checkCRC(f); err != nil {
			return err
		}
	}
	return nil
}

// checkCRC checks that a segment file ends with the CRC-32 of the rest.
func checkCRC(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	n := st.Size()
	if n < 4 {
		return fmt.Errorf("search: segment %s is torn: %d bytes", file, n)
	}
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, n-4)); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	var tail [4]byte
	if _, err := f.ReadAt(tail[:], n-4); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	if binary.BigEndian.Uint32(tail[:]) != h.Sum32() {
		return fmt.Errorf("search: segment %s is torn or damaged: bad CRC", file)
	}
	return nil
}

func create(path string) (*Index, error) {
	m, err := newMapping()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	idx, err := bleve.NewUsing(path, m, scorch.Name, scorch.Name, runtimeConfig())
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("search: create %s: %w", path, err)
	}
	if err := idx.SetInternal([]byte(keyVersion), []byte(strconv.Itoa(MappingVersion))); err != nil {
		_ = idx.Close()
		return nil, fmt.Errorf("search: %w", err)
	}
	return &Index{idx: idx, maxMatches: DefaultMaxMatches}, nil
}

// Close closes the index.
func (x *Index) Close() error { return x.idx.Close() }

// Put indexes docs (replacing earlier versions) and deletes ids, in one
// bleve Batch. A doc that is also in deletes is deleted. It returns once
// the batch is persisted (scorch waits for its persister unless told
// otherwise), so the caller may record what it indexed.
func (x *Index) Put(docs []Doc, deletes []uint64) error {
	return x.put(docs, deletes, nil)
}

// PutMark is Put that also stores mark (for example the last article id
// indexed) in the same batch, so the mark never runs ahead of the
// documents after a crash. Mark reads it back.
func (x *Index) PutMark(docs []Doc, deletes []uint64, mark []byte) error {
	if mark == nil {
		mark = []byte{}
	}
	return x.put(docs, deletes, mark)
}

// Mark returns what the last PutMark stored, nil if none.
func (x *Index) Mark() ([]byte, error) {
	return x.idx.GetInternal([]byte(keyMark))
}

func (x *Index) put(docs []Doc, deletes []uint64, mark []byte) error {
	b := x.idx.NewBatch()
	for i := range docs {
		if err := b.IndexAdvanced(bleveDoc(&docs[i])); err != nil {
			return fmt.Errorf("search: index article %d: %w", docs[i].ID, err)
		}
	}
	for _, id := range deletes {
		b.Delete(docID(id))
	}
	if mark != nil {
		b.SetInternal([]byte(keyMark), mark)
	}
	if err := x.idx.Batch(b); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	return nil
}

func docID(id uint64) string { return strconv.FormatUint(id, 10) }

// Count is the number of documents.
func (x *Index) Count() (uint64, error) { return x.idx.DocCount() }

// Times bleve's date range query accepts (query.MinRFC3339CompatibleTime
// and the max); an article outside them is indexed without a time.
var (
	minTime = bquery.MinRFC3339CompatibleTime
	maxTime = bquery.MaxRFC3339CompatibleTime
)

const (
	textOptions    = bindex.IndexField | bindex.IncludeTermVectors
	keywordOptions = bindex.IndexField
)

// bleveDoc builds the bleve document of one article: what Analyze makes of
// it, field by field.
func bleveDoc(d *Doc) *document.Document {
	a := analysis.Analyze(d.Title, d.Text, d.Site)
	doc := document.NewDocument(docID(d.ID))
	if t := a.TitleStems(); len(t) > 0 {
		doc.AddField(document.NewTextFieldCustom(fTitle, nil, []byte(strings.Join(t, " ")), textOptions, stemsAnalyzer))
	}
	if t := a.TextStems(); len(t) > 0 {
		doc.AddField(document.NewTextFieldCustom(fText, nil, []byte(strings.Join(t, " ")), textOptions, stemsAnalyzer))
	}
	if a.Lang != "" {
		doc.AddField(keyword(fLang, 0, a.Lang, keywordOptions))
	}
	for i, s := range siteAndParents(a.Site) {
		doc.AddField(keyword(fSite, i, s, keywordOptions))
	}
	for i, t := range d.Topics {
		if t = strings.ToLower(t); t != "" {
			doc.AddField(keyword(fTopics, i, t, keywordOptions))
		}
	}
	doc.AddField(keyword(fStory, 0, strconv.FormatUint(d.StoryID, 10), keywordOptions|bindex.DocValues))
	if t := d.Time; !t.IsZero() && !t.Before(minTime) && !t.After(maxTime) {
		if f, err := document.NewDateTimeFieldWithIndexingOptions(fTime, nil, t, time.RFC3339, bindex.IndexField); err == nil {
			doc.AddField(f)
		}
		// The time again for ranking, apart: a date field's doc values
		// hold all 16 of its prefix-coded range terms, and reading them
		// for every match was most of a broad query's time.
		doc.AddField(keyword(fWhen, 0, strconv.FormatInt(t.UnixNano(), 10), keywordOptions|bindex.DocValues))
	}
	return doc
}

// keyword is a field of one token, the whole value (a text field without
// an analyzer).
func keyword(name string, i int, v string, opt bindex.FieldIndexingOptions) *document.TextField {
	var pos []uint64
	if i > 0 {
		pos = []uint64{uint64(i)}
	}
	return document.NewTextFieldCustom(name, pos, []byte(v), opt, nil)
}

// siteAndParents returns a site (in SiteOf form) and every domain it is a
// subdomain of: "news.finextra.com" gives news.finextra.com, finextra.com
// and com. domain is among them exactly when Doc.OnSite(domain): the site
// itself, or a suffix of it that follows a dot.
func siteAndParents(site string) []string {
	if site == "" {
		return nil
	}
	out := []string{site}
	for i := 0; i < len(site); i++ {
		if site[i] == '.' && i+1 < len(site) {
			out = append(out, site[i+1:])
		}
	}
	return out
}
