package analysis

import (
	"hash/maphash"
	"sync"
)

// stemCache remembers the stems of words seen in earlier articles: news
// vocabulary repeats from article to article, and a lookup costs a tenth of
// a Snowball run. It only memoizes a pure function, so sharing it between
// goroutines and articles changes no result. Each shard keeps at most
// shardWords words; later new words are stemmed without being kept.
type stemCache struct {
	seed   maphash.Seed
	shards [64]stemShard
}

type stemShard struct {
	mu sync.RWMutex
	m  map[string]string
}

const shardWords = 8192

var stemMemo = &stemCache{seed: maphash.MakeSeed()}

func (c *stemCache) shard(w []byte) *stemShard {
	return &c.shards[maphash.Bytes(c.seed, w)%uint64(len(c.shards))]
}

// get returns the cached stem of w.
func (c *stemCache) get(sh *stemShard, w []byte) (string, bool) {
	sh.mu.RLock()
	s, ok := sh.m[string(w)]
	sh.mu.RUnlock()
	return s, ok
}

// put keeps word's stem unless the shard is full.
func (c *stemCache) put(sh *stemShard, word, stem string) {
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[string]string, 256)
	}
	if len(sh.m) < shardWords {
		sh.m[word] = stem
	}
	sh.mu.Unlock()
}
